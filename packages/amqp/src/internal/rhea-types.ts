// Typed views of the rhea objects this package touches. rhea's own typings omit several fields it documents
// (link credit, delivery counts, the attach frames); these interfaces name exactly what we rely on.
import type {
  Connection as RheaConnectionBase,
  Container as RheaContainerBase,
  Delivery as RheaDeliveryBase,
  EventContext as RheaEventContextBase,
  Receiver as RheaReceiverBase,
  Sender as RheaSenderBase,
} from 'rhea';

interface LinkInternals {
  credit: number;
  delivery_count: number;
  local: { attach: Record<string, unknown>; detach: Record<string, unknown> };
  remote: { attach?: Record<string, unknown>; detach?: { error?: unknown } };
  session: {
    outgoing: { available(): number; next_pending_delivery: number };
    incoming: { updated: Array<{ state?: { descriptor?: { value?: unknown } } }> };
    is_open(): boolean;
  };
  connection: { _process(): void };
}

export type RheaSender = RheaSenderBase & LinkInternals;
export type RheaReceiver = RheaReceiverBase & LinkInternals;
export type RheaLink = RheaSender | RheaReceiver;

export type RheaDelivery = RheaDeliveryBase & {
  remote_settled: boolean;
  settled: boolean;
  remote_state?: unknown;
  tag: Buffer | string;
};

export type RheaConnection = RheaConnectionBase & {
  socket?: { destroy(): void; remoteAddress?: string; remotePort?: number };
  remote: { open?: Record<string, unknown>; close?: { error?: unknown } };
  sasl_transport?: { mechanism?: { username?: string }; username?: string; mechanism_name?: string };
  get_peer_certificate(): { subject?: unknown } | undefined;
  /** rhea's frame processing, normally run on the next tick after input. */
  _process(): void;
  /** rhea's transport-loss handling (clears its heartbeat timers, tells links and sessions). */
  _disconnected(error?: unknown): void;
  /** False once rhea has handled the transport loss. */
  socket_ready: boolean;
};

export type RheaContainer = RheaContainerBase;

export type RheaEventContext = Omit<
  RheaEventContextBase,
  'connection' | 'sender' | 'receiver' | 'delivery'
> & {
  connection: RheaConnection;
  sender?: RheaSender;
  receiver?: RheaReceiver;
  delivery?: RheaDelivery;
};

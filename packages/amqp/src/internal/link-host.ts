import type { SessionError } from '../errors';
import type { RheaConnection, RheaEventContext } from './rhea-types';

/** What a Sender or Receiver needs from the connection that owns it. */
export interface LinkHost {
  /** The rhea connection links attach on; undefined while disconnected. */
  readonly rheaConnection: RheaConnection | undefined;
  /** True while the connection is open. */
  readonly isOpen: boolean;
  /** Why the connection closed, once it has. */
  readonly closeReason: Error | undefined;
  /** Called by a link once it is closed for good. */
  forget(link: ManagedLink): void;
}

/** The hooks a connection calls on its links. */
export interface ManagedLink {
  /** The transport dropped and a reconnect follows: park work until `reattach`. */
  onDisconnect(): void;
  /** The connection is re-established: attach again on it. */
  reattach(connection: RheaConnection): void;
  /** The connection is closed for good. */
  onConnectionClosed(error: Error): void;
  /** The peer ended the session this link was on. */
  onSessionClosed(context: RheaEventContext, error: SessionError | undefined): void;
}

export const DEFAULT_ATTACH_TIMEOUT_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** How long an attach answered without terminus waits for the refusal's detach before counting as open. */
export const REFUSAL_GRACE_MS = 200;

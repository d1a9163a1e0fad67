/**
 * Outbound QoS 1/2 state: packet identifier allocation and the in-flight window
 * (MQTT 5 receive maximum of the client, or the configured window for 3.1 / 3.1.1).
 */
import { PacketIdMap } from './packet-id-map';
import type { AckProperties, OutboundMessage, PendingPublish, PubrecInfo } from './types';

export type InflightState =
  /** Waiting for room in the window (resumed messages only). */
  | 'queued'
  /** PUBLISH written, waiting for PUBACK / PUBREC. */
  | 'publish'
  /** PUBREC received, the host's onReceived is running; PUBREL not yet written. */
  | 'received'
  /** PUBREL written, waiting for PUBCOMP. */
  | 'pubrel';

export interface InflightEntry {
  readonly messageId: number;
  readonly message: OutboundMessage & { qos: 1 | 2; payload: Buffer };
  state: InflightState;
  /** Why the client refused or how it accepted (settled once). */
  settle(reasonCode: number, properties: AckProperties | undefined): void;
  fail(error: Error): void;
  readonly onReceived: ((info: PubrecInfo) => void | Promise<void>) | undefined;
  /** What to write when the entry leaves the queue: PUBLISH (DUP for a resend) or PUBREL. */
  readonly target: 'publish' | 'pubrel';
  /** The encoded PUBLISH until it is written. */
  bytes: Buffer | undefined;
  /** Its place in the order the entries were added (set by OutboundInflight.add). */
  order: number;
}

/** The highest MQTT packet identifier. */
export const MAX_PACKET_ID = 0xffff;

export class OutboundInflight {
  /** By packet identifier; made at the first QoS 1/2 message (an idle connection has none). */
  private entries: PacketIdMap<InflightEntry> | undefined;
  private readonly queue: InflightEntry[] = [];
  private nextId = 1;
  private added = 0;

  constructor(readonly window: number) {}

  /** Messages written and not yet completed (what the window limits). */
  get inFlight(): number {
    return (this.entries?.size ?? 0) - this.queue.length;
  }

  get queued(): number {
    return this.queue.length;
  }

  get hasRoom(): boolean {
    return this.inFlight < this.window && this.queue.length === 0;
  }

  get(messageId: number): InflightEntry | undefined {
    return this.entries?.get(messageId);
  }

  has(messageId: number): boolean {
    return this.entries?.has(messageId) ?? false;
  }

  /** A free packet identifier; only call when the map is not full (the window is at most 65535). */
  allocateId(): number {
    for (let i = 0; i < MAX_PACKET_ID; i++) {
      const id = this.nextId;
      this.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.has(id)) return id;
    }
    throw new RangeError('no free packet identifier');
  }

  add(entry: InflightEntry): void {
    this.entries ??= new PacketIdMap();
    entry.order = this.added++;
    this.entries.set(entry.messageId, entry);
    if (entry.state === 'queued') this.queue.push(entry);
  }

  delete(messageId: number): void {
    this.entries?.delete(messageId);
  }

  /** The next queued entry if the window has room for it (it leaves the queue). */
  takeQueued(): InflightEntry | undefined {
    if (this.queue.length === 0 || this.inFlight >= this.window) return undefined;
    return this.queue.shift();
  }

  /** Everything not completed, in packet-id insertion order, for the host to store. */
  pending(): PendingPublish[] {
    const out: PendingPublish[] = [];
    for (const entry of this.inOrder()) {
      out.push({
        messageId: entry.messageId,
        message: entry.message,
        state: entry.state === 'pubrel' || entry.state === 'received' ? 'pubrel' : 'publish',
      });
    }
    return out;
  }

  /** Removes and returns every entry (on close). */
  drain(): InflightEntry[] {
    const all = this.inOrder();
    this.entries?.clear();
    this.queue.length = 0;
    return all;
  }

  /** Every entry, in the order they were added. */
  private inOrder(): InflightEntry[] {
    return this.entries === undefined ? [] : this.entries.values().sort((a, b) => a.order - b.order);
  }
}

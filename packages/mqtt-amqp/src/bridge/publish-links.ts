import type { Sender } from '@dragoman/amqp';
import { LruMap } from './lru';

/** The two kinds of topic link of the spec: QoS 0 and 1 (unsettled/first), QoS 2 (unsettled/second). */
export type TopicLinkKind = 'qos01' | 'qos2';

/** One cached topic sender link and the sends still waiting for their outcome on it. */
export interface TopicLink {
  readonly sender: Sender;
  readonly address: string;
  readonly kind: TopicLinkKind;
  /** Link name, to give back when the link closes. */
  readonly name: string;
}

/** A link held open by `hold` until `release`. */
export interface HeldLink {
  readonly link: TopicLink;
}

interface Slot {
  /** Settles with the link once attached. */
  readonly ready: Promise<TopicLink>;
  link: TopicLink | undefined;
  /** Sends in flight on this link. */
  pending: number;
  /** Pushed out of the cache: close once `pending` reaches 0. */
  evicted: boolean;
}

export interface PublishLinksOptions {
  /** Most links kept attached; the least recently used one is detached beyond it. */
  readonly max: number;
  /** Attaches a sender to `address` for `kind`. */
  readonly open: (address: string, kind: TopicLinkKind) => Promise<TopicLink>;
  /** Detaches a link no longer cached (never called while sends are in flight on it). */
  readonly close: (link: TopicLink) => void;
}

/**
 * The sender links one client publishes on, one per (topic address, kind), bounded by an LRU. A link pushed
 * out while deliveries on it still wait for their outcome is detached only once they have their outcome, so
 * nothing acknowledged is lost; such links number at most the client's unconfirmed publishes, themselves
 * bounded by the MQTT receive maximum.
 */
export class PublishLinks {
  private readonly cache: LruMap<string, Slot>;
  private readonly draining = new Set<Slot>();
  /** The last cache key built, and what from: a client publishing to one topic builds it once, not per message. */
  private lastAddress = '';
  private lastKind: TopicLinkKind = 'qos01';
  private lastKey = 'qos01:';

  constructor(private readonly options: PublishLinksOptions) {
    this.cache = new LruMap<string, Slot>(options.max, (_key, slot) => this.evict(slot));
  }

  /** Attached links in the cache plus evicted ones still finishing their deliveries. */
  get size(): number {
    return this.cache.size + this.draining.size;
  }

  /**
   * Runs `send` on the link for (address, kind), attaching it first if needed. The link stays open until
   * the promise `send` returns settles.
   */
  use<T>(address: string, kind: TopicLinkKind, send: (link: TopicLink) => Promise<T>): Promise<T> {
    const slot = this.slot(address, kind);
    slot.pending++;
    const done = (): void => {
      slot.pending--;
      if (slot.evicted && slot.pending === 0) this.finish(slot);
    };
    // An attached link is used synchronously, so sends keep the order they were made in.
    const result = slot.link !== undefined ? send(slot.link) : slot.ready.then(send);
    result.then(done, done);
    return result;
  }

  /**
   * The promise-free form of `use` for a link attached now: holds the open link for (address, kind) as `use`
   * does until `release` is called with it; undefined (nothing held) when it is not attached or closed.
   */
  hold(address: string, kind: TopicLinkKind): HeldLink | undefined {
    const slot = this.cache.get(this.keyOf(address, kind));
    const link = slot?.link;
    if (slot === undefined || link === undefined || link.sender.isClosed) return undefined;
    slot.pending++;
    return slot as HeldLink;
  }

  /** Ends a `hold`. */
  release(held: HeldLink): void {
    const slot = held as Slot;
    slot.pending--;
    if (slot.evicted && slot.pending === 0) this.finish(slot);
  }

  /** The attached, open link for (address, kind), if there is one now (marks it recently used). */
  peek(address: string, kind: TopicLinkKind): TopicLink | undefined {
    const slot = this.cache.get(this.keyOf(address, kind));
    const link = slot?.link;
    return link !== undefined && !link.sender.isClosed ? link : undefined;
  }

  /** The attached link for (address, kind), attaching it if needed, without holding it open. */
  async get(address: string, kind: TopicLinkKind): Promise<TopicLink> {
    return this.slot(address, kind).ready;
  }

  /** Detaches every link (in-flight sends then fail with the link's closed error). */
  closeAll(): void {
    const slots = [...this.cache.values(), ...this.draining];
    this.cache.clear();
    this.draining.clear();
    for (const slot of slots) {
      if (slot.link !== undefined) this.options.close(slot.link);
      else slot.ready.then((link) => this.options.close(link)).catch(() => {});
    }
  }

  private slot(address: string, kind: TopicLinkKind): Slot {
    const key = this.keyOf(address, kind);
    const cached = this.cache.get(key);
    if (cached !== undefined && (cached.link === undefined || !cached.link.sender.isClosed)) return cached;
    if (cached !== undefined) {
      // The peer detached it: forget it (closing a closed link only gives its name back).
      this.cache.delete(key);
      cached.evicted = true;
      if (cached.pending === 0) this.finish(cached);
      else this.draining.add(cached);
    }
    const ready = this.options.open(address, kind);
    const slot: Slot = { ready, link: undefined, pending: 0, evicted: false };
    ready.then(
      (link) => {
        slot.link = link;
      },
      () => {
        // A failed attach is not cached: the next publish to this topic tries again.
        if (this.cache.peek(key) === slot) this.cache.delete(key);
      },
    );
    this.cache.set(key, slot);
    return slot;
  }

  private keyOf(address: string, kind: TopicLinkKind): string {
    if (address !== this.lastAddress || kind !== this.lastKind) {
      this.lastAddress = address;
      this.lastKind = kind;
      this.lastKey = `${kind}:${address}`;
    }
    return this.lastKey;
  }

  private evict(slot: Slot): void {
    slot.evicted = true;
    if (slot.pending === 0) this.finish(slot);
    else this.draining.add(slot);
  }

  private finish(slot: Slot): void {
    this.draining.delete(slot);
    slot.ready.then((link) => this.options.close(link)).catch(() => {});
  }
}

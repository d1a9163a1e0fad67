/**
 * The Will service: holds each client's will (AMQP_WILL on its will link, link name = client id) and publishes
 * it when the client goes away without a clean disconnect.
 *
 * - a will link detached with an error (or lost with its connection) publishes the will, after its MQTT 5 delay
 *   interval when it has one; a clean detach, or AMQP_WILL_CLEAR, drops it;
 * - a will waiting out its delay is cancelled when the client resumes its session (AMQP_LIST) and published at
 *   once when the client starts a clean one (AMQP_CLOSE: the old session ends, MQTT 5 section 3.1.3.2.2);
 * - after a restart every stored will waits `restartGraceMs` for its client to come back (a will link attached
 *   with its client id, or its AMQP_LIST / AMQP_CLOSE) and is published if it does not;
 * - the end of the client's session (`sessionExpired`: its expiry interval passed, or was 0 when its connection
 *   closed) publishes a waiting will at once: MQTT 5 sends the will at the earlier of its delay and the session's
 *   end. A will whose link is still attached then goes at once when that link detaches abruptly.
 *
 * A will is deleted from the store only after it has been published (at least once across a crash).
 */
import type { MqttMessage, WillStore } from '../types';
import type { WillServiceStats } from './types';

/** Options of `WillService.start`. */
export interface WillServiceOptions {
  readonly store: WillStore;
  /** Publishes a will on its topic; resolves once the message has been taken (routed or stored). */
  readonly publish: (message: MqttMessage, clientId: string) => Promise<void>;
  /** How long a will found in the store at start waits for its client to come back, ms. Default 60 000. */
  readonly restartGraceMs?: number;
  /** Called after a will was published. */
  readonly onPublished?: (clientId: string, message: MqttMessage) => void;
  /** A store or publish operation failed in the background. */
  readonly onError?: (error: unknown) => void;
}

/** Identifies one will link; compared by identity. */
export type WillLinkToken = object;

interface HeldWill {
  readonly message: MqttMessage;
  readonly delayInterval: number;
  /** The will link that set it; undefined for a will found in the store at start. */
  readonly owner: WillLinkToken | undefined;
  /** Changes with every set, so a late clean-up never deletes a newer will. */
  readonly generation: number;
}

interface WaitingWill {
  readonly will: HeldWill;
  readonly reason: 'delay' | 'restart';
  readonly timer: ReturnType<typeof setTimeout>;
}

export const DEFAULT_RESTART_GRACE_MS = 60_000;

export class WillService {
  readonly #store: WillStore;
  readonly #publish: (message: MqttMessage, clientId: string) => Promise<void>;
  readonly #restartGraceMs: number;
  readonly #onPublished: ((clientId: string, message: MqttMessage) => void) | undefined;
  readonly #onError: (error: unknown) => void;
  /** The will each client has now, as in the store. */
  readonly #held = new Map<string, HeldWill>();
  /** Will links attached now. */
  readonly #attached = new Set<WillLinkToken>();
  /**
   * Wills replaced by a newer connection of the same client (takeover) while the older link was still attached:
   * that link's detach still decides about its own will. Memory only: the store holds the newer will.
   */
  readonly #superseded = new Map<WillLinkToken, HeldWill>();
  readonly #waiting = new Map<string, WaitingWill>();
  /** Wills whose session ended while their link was still attached: no delay left for them. */
  readonly #sessionOver = new WeakSet<HeldWill>();
  #generation = 0;
  #published = 0;
  #closed = false;

  private constructor(options: WillServiceOptions) {
    this.#store = options.store;
    this.#publish = options.publish;
    this.#restartGraceMs = options.restartGraceMs ?? DEFAULT_RESTART_GRACE_MS;
    if (!Number.isFinite(this.#restartGraceMs) || this.#restartGraceMs < 0) {
      throw new RangeError(`restartGraceMs must be a non-negative number: ${this.#restartGraceMs}`);
    }
    this.#onPublished = options.onPublished;
    this.#onError = options.onError ?? (() => {});
  }

  /** Loads the stored wills; each waits `restartGraceMs` for its client. */
  static async start(options: WillServiceOptions): Promise<WillService> {
    const service = new WillService(options);
    for (const stored of await options.store.list()) {
      const will = service.#hold(stored.clientId, stored.message, stored.delayInterval, undefined);
      service.#wait(stored.clientId, will, 'restart', service.#restartGraceMs);
    }
    return service;
  }

  stats(): WillServiceStats {
    return { wills: this.#held.size, pending: this.#waiting.size, published: this.#published };
  }

  /** A will link attached for `clientId`; a will held since a restart is dropped (its client came back). */
  linkAttached(clientId: string, token: WillLinkToken): void {
    this.#attached.add(token);
    // A will waiting out its delay waits on: AMQP_LIST or AMQP_CLOSE says what becomes of it.
    if (this.#waiting.get(clientId)?.reason === 'restart') this.#clientReturned(clientId);
  }

  /** AMQP_WILL: stores (or replaces) the client's will. Resolves once the store has it. */
  async setWill(
    clientId: string,
    token: WillLinkToken,
    message: MqttMessage,
    delayInterval: number,
  ): Promise<void> {
    await this.#store.set(clientId, message, { delayInterval });
    const previous = this.#held.get(clientId);
    if (previous?.owner !== undefined && previous.owner !== token && this.#attached.has(previous.owner)) {
      this.#superseded.set(previous.owner, previous);
    }
    this.#hold(clientId, message, delayInterval, token);
  }

  /** AMQP_WILL_CLEAR: drops the client's will. */
  async clearWill(clientId: string): Promise<void> {
    const will = this.#held.get(clientId);
    if (will === undefined) return;
    await this.#forget(clientId, will);
  }

  /**
   * The will link went away: `abrupt` (detached with an error, or lost with its connection) publishes the will
   * that link set, now or after its delay; a clean detach drops it. A will a newer link has replaced meanwhile
   * (takeover) is published at once on an abrupt detach when it has no delay, and dropped otherwise (its client
   * is already back). Ignored while the service closes.
   */
  linkDetached(clientId: string, token: WillLinkToken, abrupt: boolean): void {
    if (this.#closed) return;
    this.#attached.delete(token);
    const superseded = this.#superseded.get(token);
    if (superseded !== undefined) {
      this.#superseded.delete(token);
      if (abrupt && superseded.delayInterval === 0) void this.#publishWill(clientId, superseded);
      return;
    }
    const will = this.#held.get(clientId);
    if (will === undefined || will.owner !== token) return;
    if (!abrupt) {
      void this.#forget(clientId, will).catch(this.#onError);
      return;
    }
    if (will.delayInterval > 0 && !this.#sessionOver.has(will)) {
      this.#wait(clientId, will, 'delay', will.delayInterval * 1000);
    } else void this.#publishWill(clientId, will);
  }

  /** AMQP_LIST: the client resumes its session; a will waiting out its delay is not published. */
  sessionResumed(clientId: string): void {
    this.#clientReturned(clientId);
  }

  /** AMQP_CLOSE: the client starts a clean session; the old session ends, so a waiting will goes out now. */
  sessionEnded(clientId: string): void {
    const waiting = this.#waiting.get(clientId);
    if (waiting === undefined) return;
    if (waiting.reason === 'restart') {
      this.#clientReturned(clientId);
      return;
    }
    clearTimeout(waiting.timer);
    this.#waiting.delete(clientId);
    void this.#publishWill(clientId, waiting.will);
  }

  /**
   * The client's session ended without the client starting a new one (it expired, or ended with its connection):
   * a will waiting out its delay interval, or the restart grace time, is published now; a will whose link is
   * still attached is published as soon as that link detaches abruptly (a clean detach still drops it).
   */
  sessionExpired(clientId: string): void {
    if (this.#closed) return;
    const waiting = this.#waiting.get(clientId);
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      this.#waiting.delete(clientId);
      void this.#publishWill(clientId, waiting.will);
      return;
    }
    const will = this.#held.get(clientId);
    if (will !== undefined) this.#sessionOver.add(will);
  }

  /** Stops every timer. Stored wills stay stored, for the next start. */
  close(): void {
    this.#closed = true;
    for (const waiting of this.#waiting.values()) clearTimeout(waiting.timer);
    this.#waiting.clear();
  }

  #clientReturned(clientId: string): void {
    const waiting = this.#waiting.get(clientId);
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(clientId);
    void this.#forget(clientId, waiting.will).catch(this.#onError);
  }

  #hold(
    clientId: string,
    message: MqttMessage,
    delayInterval: number,
    owner: WillLinkToken | undefined,
  ): HeldWill {
    this.#generation += 1;
    const will: HeldWill = { message, delayInterval, owner, generation: this.#generation };
    this.#held.set(clientId, will);
    return will;
  }

  #wait(clientId: string, will: HeldWill, reason: WaitingWill['reason'], ms: number): void {
    const previous = this.#waiting.get(clientId);
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      if (this.#waiting.get(clientId)?.timer !== timer) return;
      this.#waiting.delete(clientId);
      void this.#publishWill(clientId, will);
    }, ms);
    this.#waiting.set(clientId, { will, reason, timer });
  }

  async #publishWill(clientId: string, will: HeldWill): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#publish(will.message, clientId);
      this.#published += 1;
      await this.#forget(clientId, will);
      this.#onPublished?.(clientId, will.message);
    } catch (error) {
      // Still stored: the next start publishes it after the grace time.
      this.#onError(error);
    }
  }

  /** Deletes the will, unless a newer one replaced it meanwhile. */
  async #forget(clientId: string, will: HeldWill): Promise<void> {
    if (this.#held.get(clientId) !== will) return;
    this.#held.delete(clientId);
    await this.#store.delete(clientId);
    // A new will set while deleting wins: put it back.
    const now = this.#held.get(clientId);
    if (now !== undefined) await this.#store.set(clientId, now.message, { delayInterval: now.delayInterval });
  }
}

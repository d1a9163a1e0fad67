import type { AmqpMessage, Sender, SendResult } from '@dragoman/amqp';
import type { InboundPublish } from '@dragoman/mqtt';
import type { AuthorizationResult } from '../authz/decide';
import { LIMIT_INFO_KEY } from '../backend/backend';
import { withExplicitRelease } from '../mapping/publish';
import type { EncodedPublish } from '../types';
import type { PublishLinks, TopicLinkKind } from './publish-links';
import { publishRefusalCode } from './reason-codes';

/** What the client-to-network path needs from its bridge. */
export interface ClientPublishesHost {
  readonly links: PublishLinks;
  /** Maps an MQTT PUBLISH to an AMQP_PUBLISH; throws `MappingError` for a topic the dialect cannot carry. */
  encode(publish: InboundPublish): EncodedPublish;
  /** The AMQP side refused a publish for a resource limit (e.g. its retained store is full). */
  resourceLimit(): void;
  /** A limit the topic breaks (answered 0x90 topic name invalid / 3.1.1 dropped), else undefined. */
  topicLimit(topic: string): string | undefined;
  /** Asks the authorization hook; undefined when there is none (everything allowed). Never rejects. */
  authorize?(publish: InboundPublish): Promise<AuthorizationResult> | undefined;
  /** MQTT 5 clients get negative acknowledgements; 3.1.1 clients are disconnected instead. */
  readonly negativeAcks: boolean;
  /** Stop / start reading the client's socket. */
  pause(): void;
  resume(): void;
  /** Ends the client's connection because a publish could not be completed (3.1.1, or an AMQP failure). */
  fail(reason: string, error?: unknown): void;
  /** Ends waiting when the bridge goes away. */
  readonly signal: AbortSignal;
  /**
   * Sends AMQP_PUBLISH_RELEASED for `packetId` (mapping/publish-released.ts) and resolves once it is accepted:
   * the client released a QoS 2 packet id whose AMQP delivery can no longer be settled. Without it, such a
   * PUBREL is answered at once and the receiver keeps its entry until the packet id is used again.
   */
  publishReleased?(packetId: number): Promise<void>;
  /** The QoS 2 bounds (tests); default `MAX_AWAITING_PUBREL` and `MAX_EXPLICIT_RELEASES`. */
  readonly qos2Limits?: { readonly maxHeld?: number; readonly maxExplicit?: number };
}

/**
 * Most QoS 2 exchanges of one client that follow the spec's held settlement at once: sent with
 * `Sender.sendHeld` and not yet released by the client's PUBREL (each holds an unsettled AMQP delivery, and with
 * it a slot of the AMQP session's window). Beyond it the client is NOT paused — a client that writes many
 * PUBLISHes before its first PUBREL (mqtt.js does) would then never be read as far as the PUBRELs that free a
 * slot — its next QoS 2 PUBLISHes are released explicitly instead (`MAX_EXPLICIT_RELEASES`).
 */
export const MAX_AWAITING_PUBREL = 128;

/**
 * Most QoS 2 exchanges of one client beyond `MAX_AWAITING_PUBREL` that are released explicitly at once: the
 * AMQP_PUBLISH carries `x-opt-mqtt-release: explicit`, its delivery is settled as soon as the receiver's outcome
 * arrives (PUBREC), the receiver keeps its (client, packet id, content) record until the client's PUBREL is
 * passed on as AMQP_PUBLISH_RELEASED, then PUBCOMP. Each costs the bridge a small record (no AMQP delivery).
 * Together with the held ones this stays below the embedded backend's `maxUnreleasedQos2PerClient` (1 000), and
 * the AMQP_PUBLISH_RELEASED sends it causes below the pubrel link's send queue (1 000). Beyond it too, a QoS 2
 * exchange is released at PUBREC (counted in `releasedAtPubrec`): settled at once without the annotation and
 * PUBCOMP answered on PUBREL, so the receiver forgets it at once; nothing is lost, but a re-send of it after a
 * reconnect (PUBREC lost) would be routed again. Reading never stops for want of a PUBREL.
 */
export const MAX_EXPLICIT_RELEASES = 512;

/** How one QoS 2 exchange is settled with the AMQP receiver (see `MAX_AWAITING_PUBREL`). */
type Qos2Release = 'held' | 'explicit' | 'at-pubrec';

/**
 * Client → network. PUBLISHes are sent in the order they were read, each on its topic's link: QoS 0 and 1
 * on the at-least-once link, QoS 2 on the exactly-once link. When a link has no credit (or is still
 * attaching) the client's socket is paused, so TCP pushes back on the device; what was already read waits
 * here (at most what one socket read decoded). Acknowledgements follow the AMQP outcome:
 * QoS 1 PUBACK on `accepted`. QoS 2 follows the spec's settlement steps: the delivery is sent with
 * `Sender.sendHeld` and stays unsettled; the receiver's `accepted` → PUBREC; the client's PUBREL → the delivery
 * is settled; once the receiver has settled too → PUBCOMP — for up to `MAX_AWAITING_PUBREL` exchanges at once.
 * Beyond that the delivery is settled at PUBREC and the release is explicit (`MAX_EXPLICIT_RELEASES`), so the
 * socket is never paused for want of a PUBREL.
 */
export class ClientPublishes {
  private readonly queue: InboundPublish[] = [];
  private head = 0;
  private running = false;
  private unconfirmedCount = 0;
  /** Held QoS 2 exchanges sent and not released by PUBREL yet (bounded by `maxHeld`). */
  private awaitingRelease = 0;
  /** Explicitly released QoS 2 exchanges not completed yet (bounded by `maxExplicit`). */
  private explicitReleases = 0;
  private releasedAtPubrecCount = 0;
  private readonly maxHeld: number;
  private readonly maxExplicit: number;
  private pausedByUs = false;
  /** Called whenever nothing is queued or unconfirmed any more (see `whenIdle`). */
  private readonly idleWaiters = new Set<() => void>();

  constructor(private readonly host: ClientPublishesHost) {
    this.maxHeld = host.qos2Limits?.maxHeld ?? MAX_AWAITING_PUBREL;
    this.maxExplicit =
      host.publishReleased === undefined ? 0 : (host.qos2Limits?.maxExplicit ?? MAX_EXPLICIT_RELEASES);
  }

  /** QoS 2 exchanges in progress by how they are released (held: the spec's steps; explicit: see above). */
  get qos2InProgress(): { held: number; explicit: number } {
    return { held: this.awaitingRelease, explicit: this.explicitReleases };
  }

  /** QoS 2 exchanges released at PUBREC because both bounds were reached (see `MAX_EXPLICIT_RELEASES`). */
  get releasedAtPubrec(): number {
    return this.releasedAtPubrecCount;
  }

  /** PUBLISHes read and not yet handed to a link. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** PUBLISHes handed to a link whose outcome has not arrived. */
  get unconfirmed(): number {
    return this.unconfirmedCount;
  }

  get paused(): boolean {
    return this.pausedByUs;
  }

  /** Nothing queued and nothing waiting for its AMQP outcome: every PUBLISH read has been answered. */
  get idle(): boolean {
    return this.queued === 0 && this.unconfirmedCount === 0;
  }

  /**
   * Resolves once `idle` holds (the acknowledgement of the last PUBLISH has been written), or when `signal`
   * aborts. Used by the gateway's drain on shutdown.
   */
  whenIdle(signal: AbortSignal): Promise<void> {
    if (this.idle || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.idleWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.idleWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private notifyIfIdle(): void {
    if (!this.idle) return;
    for (const done of [...this.idleWaiters]) done();
  }

  push(publish: InboundPublish): void {
    this.queue.push(publish);
    if (!this.running) this.run();
  }

  /**
   * Hands what is queued to the links, in order. Synchronous while each PUBLISH can go at once (no hook, link
   * attached with credit: no promise, no closure); one that has to wait is waited for, and the run goes on
   * from there (`running` stays set meanwhile, so later PUBLISHes queue behind it).
   */
  private run(): void {
    this.running = true;
    try {
      while (this.head < this.queue.length && !this.host.signal.aborted) {
        const publish = this.queue[this.head] as InboundPublish;
        const encoded = this.prepare(publish);
        if (encoded instanceof Promise) {
          encoded.then(
            (ready) => {
              try {
                this.take(publish, ready);
              } catch (error) {
                // As in the synchronous loop: the run ends, so that later PUBLISHes do not queue behind it.
                this.stopRunning();
                throw error;
              }
              this.run();
            },
            (error: unknown) => {
              this.stopRunning();
              throw error;
            },
          );
          return;
        }
        this.take(publish, encoded);
      }
    } catch (error) {
      this.stopRunning();
      throw error;
    }
    this.stopRunning();
  }

  /** The PUBLISH at the head leaves the queue, and goes to its link unless it was answered already. */
  private take(publish: InboundPublish, encoded: EncodedPublish | undefined): void {
    this.queue[this.head] = undefined as unknown as InboundPublish;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (encoded !== undefined) this.send(publish, encoded, kindOf(publish));
  }

  private stopRunning(): void {
    this.running = false;
    // Emptied: start again at the front (kept while short: emptying the array would let its storage go,
    // to be made again for the next PUBLISH).
    if (this.head === this.queue.length && this.head > 64) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (this.pausedByUs && !this.host.signal.aborted) {
      this.pausedByUs = false;
      this.host.resume();
    }
    this.notifyIfIdle();
  }

  /**
   * Maps the message and, when its link can take it now, returns it; otherwise a promise of it once the
   * authorization hook has allowed it and its link can take it. Undefined when it was answered already.
   */
  private prepare(publish: InboundPublish): EncodedPublish | undefined | Promise<EncodedPublish | undefined> {
    const limit = this.host.topicLimit(publish.topic);
    if (limit !== undefined) {
      this.deny(publish, 0x90, `topic beyond the ${limit} limit`);
      return undefined;
    }
    let encoded: EncodedPublish;
    try {
      encoded = this.host.encode(publish);
    } catch (error) {
      const named = (error as { reasonCode?: unknown }).reasonCode;
      const reasonCode = typeof named === 'number' ? named : 0x90;
      const reason = error instanceof Error ? error.message : 'topic cannot be mapped to an AMQP address';
      this.refuse(publish, reasonCode, reason, error);
      return undefined;
    }
    const decision = this.host.authorize?.(publish);
    if (decision !== undefined) return this.authorized(publish, encoded, decision);
    const link = this.host.links.peek(encoded.address, kindOf(publish));
    if (link !== undefined && link.sender.credit > 0) return encoded;
    return this.linkReady(publish, encoded);
  }

  /** The hook's decision, then the link (see `prepare`). */
  private async authorized(
    publish: InboundPublish,
    encoded: EncodedPublish,
    decision: Promise<AuthorizationResult>,
  ): Promise<EncodedPublish | undefined> {
    // The socket is not read while the hook decides, so what waits here stays one socket read's worth.
    this.pause();
    const result = await decision;
    if (this.host.signal.aborted) return undefined;
    if (!result.allowed) {
      this.deny(publish, result.reasonCode, 'not authorized');
      return undefined;
    }
    return this.linkReady(publish, encoded);
  }

  /** Waits until the message's link is attached and has credit (see `prepare`). */
  private async linkReady(
    publish: InboundPublish,
    encoded: EncodedPublish,
  ): Promise<EncodedPublish | undefined> {
    const kind = kindOf(publish);
    for (;;) {
      let link = this.host.links.peek(encoded.address, kind);
      if (link === undefined) {
        this.pause();
        try {
          link = await this.host.links.get(encoded.address, kind);
        } catch (error) {
          if (this.host.signal.aborted) return undefined;
          this.refuse(publish, publishRefusalCode(conditionOf(error)), 'no link to the topic address', error);
          return undefined;
        }
      }
      if (link.sender.credit > 0) return encoded;
      this.pause();
      try {
        await link.sender.whenSendable({ signal: this.host.signal });
        return encoded;
      } catch {
        if (this.host.signal.aborted) return undefined;
        // The link closed while we waited: attach it again.
      }
    }
  }

  private pause(): void {
    if (this.pausedByUs) return;
    this.pausedByUs = true;
    this.host.pause();
  }

  private send(publish: InboundPublish, encoded: EncodedPublish, kind: TopicLinkKind): void {
    this.unconfirmedCount++;
    if (kind === 'qos2' && publish.qos === 2) {
      this.sendExactlyOnce(publish, encoded);
      return;
    }
    if (this.trySend(publish, encoded, kind)) return;
    this.host.links
      .use(encoded.address, kind, (link) => link.sender.send(encoded.message))
      .then(
        (result) => this.onOutcome(publish, result),
        (error: unknown) => this.onSendError(publish, error),
      )
      .finally(() => this.confirmed());
  }

  /**
   * The promise-free path of `send` (one callback per PUBLISH): the link is attached, has credit and
   * nothing queued. False when it is not so; nothing was sent then.
   */
  private trySend(publish: InboundPublish, encoded: EncodedPublish, kind: TopicLinkKind): boolean {
    const links = this.host.links;
    const held = links.hold(encoded.address, kind);
    if (held === undefined) return false;
    let sent: boolean;
    try {
      sent = held.link.sender.trySend(encoded.message, (error, result) => {
        links.release(held);
        if (error !== undefined) this.onSendError(publish, error);
        else this.onOutcome(publish, result as SendResult);
        this.confirmed();
      });
    } catch (error) {
      // Not encodable: as the promise path would report it.
      links.release(held);
      this.onSendError(publish, error);
      this.confirmed();
      return true;
    }
    if (!sent) links.release(held);
    return sent;
  }

  /** A PUBLISH handed to a link has its outcome (or failed). */
  private confirmed(): void {
    this.unconfirmedCount--;
    this.notifyIfIdle();
  }

  /** Chooses how the exchange is released (in read order, so the bounds hold) and runs it. */
  private sendExactlyOnce(publish: InboundPublish, encoded: EncodedPublish): void {
    let confirmed = false;
    const confirm = (): void => {
      if (confirmed) return;
      confirmed = true;
      this.unconfirmedCount--;
      this.notifyIfIdle();
    };
    const release = this.nextRelease(publish);
    const message = release === 'explicit' ? withExplicitRelease(encoded.message) : encoded.message;
    const exchange =
      release === 'held'
        ? // The link stays attached (`use`) until the whole exchange is over.
          this.host.links.use(encoded.address, 'qos2', (link) =>
            this.heldExchange(publish, link.sender, message, confirm),
          )
        : this.host.links
            .use(encoded.address, 'qos2', (link) =>
              this.settledAtOutcome(publish, link.sender, message, confirm),
            )
            .then((received) => (received ? this.completeAfterPubrel(publish, release) : undefined));
    exchange
      .catch((error: unknown) => {
        if (!confirmed) this.onSendError(publish, error);
      })
      .finally(() => {
        confirm();
        if (release === 'held') this.awaitingRelease--;
        else if (release === 'explicit') this.explicitReleases--;
      });
  }

  private nextRelease(publish: InboundPublish): Qos2Release {
    if (this.awaitingRelease < this.maxHeld) {
      this.awaitingRelease++;
      return 'held';
    }
    if (this.explicitReleases < this.maxExplicit && publish.messageId !== undefined) {
      this.explicitReleases++;
      return 'explicit';
    }
    this.releasedAtPubrecCount++;
    return 'at-pubrec';
  }

  /**
   * The spec's QoS 2 steps: PUBREC on the receiver's `accepted`, the delivery settled on the client's PUBREL,
   * PUBCOMP once the receiver has settled too. A connection that closes before the PUBREL ends it there: the
   * held delivery goes with the link, and the client sends PUBREL again on its next connection.
   */
  private async heldExchange(
    publish: InboundPublish,
    sender: Sender,
    message: AmqpMessage,
    confirm: () => void,
  ): Promise<void> {
    const held = await sender.sendHeld(message);
    if (held.outcome.state !== 'accepted') {
      held.settle();
      this.onOutcome(publish, held.outcome);
      confirm();
      return;
    }
    publish.received();
    confirm();
    try {
      await publish.released();
    } catch {
      return;
    }
    held.settle();
    try {
      await held.whenSettled();
    } catch {
      // The link went before both sides settled. If the client is still here, tell the receiver it released
      // the packet id, then complete; if the AMQP connection is gone the client goes too and re-sends PUBREL.
      if (this.host.signal.aborted) return;
      if (this.host.publishReleased !== undefined && publish.messageId !== undefined) {
        try {
          await this.host.publishReleased(publish.messageId);
        } catch {
          return;
        }
      }
    }
    publish.complete();
  }

  /**
   * Sends on the exactly-once link and settles as soon as the receiver's outcome arrives (no AMQP delivery
   * is held while the client takes its time to PUBREL). True once PUBREC was written.
   */
  private async settledAtOutcome(
    publish: InboundPublish,
    sender: Sender,
    message: AmqpMessage,
    confirm: () => void,
  ): Promise<boolean> {
    const held = await sender.sendHeld(message);
    held.settle();
    if (held.outcome.state !== 'accepted') {
      this.onOutcome(publish, held.outcome);
      confirm();
      return false;
    }
    publish.received();
    confirm();
    return true;
  }

  /**
   * After PUBREC of a delivery already settled: `explicit` passes the client's PUBREL on as
   * AMQP_PUBLISH_RELEASED and writes PUBCOMP once it is answered (also when refused: a network without the
   * pubrel address must not hold the client up); `at-pubrec` answers PUBREL with PUBCOMP at once. A connection
   * that closes before the PUBREL ends it there: the client re-sends PUBREL on its next connection, which is
   * passed on as an unknown PUBREL.
   */
  private async completeAfterPubrel(publish: InboundPublish, release: Qos2Release): Promise<void> {
    if (
      release !== 'explicit' ||
      this.host.publishReleased === undefined ||
      publish.messageId === undefined
    ) {
      publish.complete(); // PUBCOMP is written when PUBREL arrives.
      return;
    }
    try {
      await publish.released();
    } catch {
      return;
    }
    try {
      await this.host.publishReleased(publish.messageId);
    } catch {
      // Refused, or the AMQP side went: the bridge goes with it and answers nothing more.
    }
    if (!this.host.signal.aborted) publish.complete();
  }

  private onOutcome(publish: InboundPublish, result: SendResult): void {
    if (publish.qos === 0) return;
    if (result.state === 'accepted' || result.state === 'sent') {
      if (publish.qos === 1) {
        publish.ack();
        return;
      }
      publish.received();
      publish.complete();
      return;
    }
    const condition = result.state === 'rejected' ? result.error?.condition : undefined;
    if (condition === 'amqp:resource-limit-exceeded') this.host.resourceLimit();
    const limit = result.state === 'rejected' ? result.error?.info?.[LIMIT_INFO_KEY] : undefined;
    if (condition === 'amqp:resource-limit-exceeded' && typeof limit === 'string') {
      // A store limit the message itself breaks (the retained store is full): sending it again will not help,
      // so a 3.1.1 client is answered as for a denied PUBLISH (acknowledged, dropped), not disconnected.
      this.deny(publish, 0x97, `store limit: ${limit}`);
      return;
    }
    this.refuse(publish, publishRefusalCode(condition), `AMQP outcome ${result.state}`, undefined);
  }

  private onSendError(publish: InboundPublish, error: unknown): void {
    if (this.host.signal.aborted) return;
    if (publish.qos === 0) return;
    this.host.fail('a publish could not be delivered to AMQP', error);
  }

  /**
   * Answers a PUBLISH the authorization hook denied, one beyond the topic limits, or one a store limit refused
   * (the retained store full). MQTT 5: PUBACK / PUBREC with the reason code (0x87 when
   * the hook's code is not one those packets carry). MQTT 3.1.1 has no negative acknowledgement: the message
   * is dropped and acknowledged as usual, so that the client does not resend it forever (MQTT 3.1.1, 4.9 lets
   * a server drop what it will not authorize; closing the connection would just make the device reconnect
   * and retry).
   */
  private deny(publish: InboundPublish, reasonCode: number, reason: string): void {
    if (publish.qos === 0) return;
    if (this.host.negativeAcks) {
      const code = PUBLISH_FAILURES.has(reasonCode) ? reasonCode : 0x87;
      const properties = { reasonString: reason };
      if (publish.qos === 1) publish.ack({ reasonCode: code, properties });
      else publish.received({ reasonCode: code, properties });
      return;
    }
    if (publish.qos === 1) {
      publish.ack();
      return;
    }
    publish.received();
    publish.complete();
  }

  /** Answers a PUBLISH that will not reach AMQP: MQTT 5 gets a reason code, 3.1.1 a closed connection. */
  private refuse(publish: InboundPublish, reasonCode: number, reason: string, error: unknown): void {
    if (publish.qos === 0) return;
    if (!this.host.negativeAcks) {
      this.host.fail(reason, error);
      return;
    }
    if (publish.qos === 1) publish.ack({ reasonCode, properties: { reasonString: reason } });
    else publish.received({ reasonCode, properties: { reasonString: reason } });
  }
}

/** The topic link a PUBLISH goes on: QoS 2 on the exactly-once link, QoS 0 and 1 on the at-least-once link. */
function kindOf(publish: InboundPublish): TopicLinkKind {
  return publish.qos === 2 ? 'qos2' : 'qos01';
}

/** PUBACK / PUBREC failure reason codes (MQTT 5.0, 3.4.2.1). */
const PUBLISH_FAILURES: ReadonlySet<number> = new Set([0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);

function conditionOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const condition = (current as { condition?: unknown }).condition;
    if (typeof condition === 'string') return condition;
    current = current.cause;
  }
  return undefined;
}

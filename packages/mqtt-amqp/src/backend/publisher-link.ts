/**
 * One link a peer publishes on, with back-pressure: its credit is granted by hand, so that credit left plus
 * publications being routed plus publications waiting never exceed the link's window.
 *
 * A publication (any QoS, settled by the publisher or not) is routed only once every connected subscriber it
 * reaches has room for it (`hasRoom`); until then it waits, the publications after it wait behind it (order
 * per link is kept) and the link gets no credit: the publisher is held, as a TCP sender is by a slow reader.
 * Its delivery is settled only once routed, so nothing is accepted that a subscriber could not take. A
 * publication waiting longer than the time-out is rejected (`amqp:resource-limit-exceeded`; a pre-settled one
 * is dropped and counted), so a subscriber that never takes anything holds its publishers for a bounded time.
 *
 * A publication may first need an asynchronous admission (a retained message needs room in the retained
 * store): while it is being admitted the publications after it wait, so the order per link still holds.
 */
import type { Delivery, Receiver } from '@dragoman/amqp';
import type { MqttMessage } from '../types';

/** One publication read from the link, decoded. */
export interface Publication {
  readonly delivery: Delivery;
  readonly message: MqttMessage;
  readonly publisherId: string | undefined;
  /**
   * Set for a QoS 2 publication of an MQTT client (its id known) on an exactly-once link whose `message-id` is
   * the MQTT packet id: the backend remembers it until released, and a re-send is not routed twice.
   */
  readonly exactlyOnce: ExactlyOnceKey | undefined;
}

/** Who published a QoS 2 publication, under which packet id, and a digest of its content. */
export interface ExactlyOnceKey {
  readonly clientId: string;
  readonly packetId: number;
  readonly fingerprint: string;
  /**
   * The publication carries `x-opt-mqtt-release: explicit` (mapping/publish.ts): remembered after its delivery
   * is settled, until AMQP_PUBLISH_RELEASED for the packet id, not only until the publisher settles.
   */
  readonly explicitRelease: boolean;
}

/** What a publisher link asks of the backend. */
export interface PublicationRouter {
  /** Whether every connected subscriber `publication` reaches has room for it now. */
  hasRoom(publication: Publication): boolean;
  /**
   * Routes it and settles its delivery; calls `done` once settled (or the link went away), never
   * synchronously.
   */
  route(publication: Publication, done: () => void): void;
  /** The publication waited `timeoutMs` without room: it is refused. */
  timedOut(publication: Publication): void;
  /**
   * A check before routing, or undefined when there is none for this publication. Resolves true to route it,
   * false when it was refused (its delivery settled by the router).
   */
  admit(publication: Publication): Promise<boolean> | undefined;
}

export class PublisherLink {
  readonly #receiver: Receiver;
  readonly #window: number;
  readonly #router: PublicationRouter;
  /** False: the `drop` policy, nothing waits for room. */
  readonly #holdBack: boolean;
  /**
   * Publications read and not routed yet, in order: `#waiting[#head, #tail)`; non-empty only while the head has
   * no room. A queue without `shift` (which moves every entry after the head) and whose array keeps its storage
   * when it empties (a link is held and let go again and again): taking the head moves `#head`, and once the
   * taken part is as long as what waits (and at least 64), what waits moves to the front. So the array never
   * holds more than 64 slots plus twice the most publications waiting at once (at most the link's window).
   */
  readonly #waiting: Array<Publication | undefined> = [];
  #head = 0;
  #tail = 0;
  /** Routed and not settled yet. */
  #routing = 0;
  /** Since when the head of `#waiting` has been waiting, epoch ms. */
  #headSince = 0;
  /** A publication is being admitted: the ones after it wait. */
  #admitting = false;

  constructor(receiver: Receiver, window: number, router: PublicationRouter, holdBack: boolean) {
    this.#receiver = receiver;
    this.#window = window;
    this.#router = router;
    this.#holdBack = holdBack;
    // Before the attach is answered: granted as it opens.
    receiver.addCredit(window);
  }

  /** Publications waiting for room. */
  get waiting(): number {
    return this.#tail - this.#head;
  }

  /** Whether the link is held: a publication waits for room, no credit is granted. */
  get held(): boolean {
    return this.#tail > this.#head;
  }

  /** A publication arrived (already decoded and valid). */
  offer(publication: Publication, now: number): void {
    if (this.held || this.#admitting) {
      if (!this.held) this.#headSince = now;
      this.#append(publication);
      return;
    }
    if (this.#mayGo(publication)) this.#route(publication);
    else {
      this.#append(publication);
      this.#headSince = now;
    }
    this.#topUp();
  }

  /**
   * Subscribers may have room again: routes what waits, in order, as far as it can and at most `max`
   * publications. Returns how many it routed.
   */
  resume(now: number, max = Number.POSITIVE_INFINITY): number {
    let moved = 0;
    while (moved < max && this.held && !this.#admitting) {
      const head = this.#waiting[this.#head] as Publication;
      if (!this.#mayGo(head)) break;
      this.#takeHead();
      this.#headSince = now;
      this.#route(head);
      moved += 1;
    }
    if (moved > 0) this.#topUp();
    return moved;
  }

  /** Refuses the head if it has waited `timeoutMs` or more, then goes on with the rest. */
  expire(now: number, timeoutMs: number): void {
    const head = this.#waiting[this.#head];
    if (head === undefined || this.#admitting || now - this.#headSince < timeoutMs) return;
    this.#takeHead();
    this.#headSince = now;
    this.#router.timedOut(head);
    this.resume(now);
    this.#topUp();
  }

  /** The link went away: what waits is let go unsettled (the publisher sends it again if it must). */
  close(): void {
    this.#waiting.length = 0;
    this.#head = 0;
    this.#tail = 0;
  }

  #append(publication: Publication): void {
    this.#waiting[this.#tail] = publication;
    this.#tail += 1;
  }

  /** The head leaves the queue (see `#waiting`). */
  #takeHead(): void {
    const waiting = this.#waiting;
    waiting[this.#head] = undefined;
    this.#head += 1;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#tail) {
      const left = this.#tail - this.#head;
      waiting.copyWithin(0, this.#head, this.#tail);
      waiting.fill(undefined, left, this.#tail);
      this.#head = 0;
      this.#tail = left;
    }
  }

  #mayGo(publication: Publication): boolean {
    // QoS 0 and pre-settled publications wait too: pushing back on the publisher, not dropping, is what keeps
    // a fast publisher from losing most of what it sends to a slower subscriber.
    return !this.#holdBack || this.#router.hasRoom(publication);
  }

  #route(publication: Publication): void {
    const admission = this.#router.admit(publication);
    if (admission !== undefined) {
      this.#admitting = true;
      this.#routing += 1;
      void admission
        .then(
          (admitted) => {
            if (admitted) this.#dispatch(publication);
          },
          () => {},
        )
        .finally(() => {
          this.#routing -= 1;
          this.#admitting = false;
          this.resume(Date.now());
          this.#topUp();
        });
      return;
    }
    this.#dispatch(publication);
  }

  #dispatch(publication: Publication): void {
    this.#routing += 1;
    this.#router.route(publication, this.#routed);
  }

  /** One publication routed and settled: made once per link, not per publication. */
  readonly #routed = (): void => {
    this.#routing -= 1;
    this.#topUp();
  };

  /** Grants what the window allows (in batches of a quarter window), nothing while held. */
  #topUp(): void {
    if (this.held || !this.#receiver.isOpen) return;
    const credit = this.#receiver.credit;
    const grant = this.#window - credit - this.#routing;
    if (grant > 0 && (credit === 0 || grant >= Math.ceil(this.#window / 4))) this.#receiver.addCredit(grant);
  }
}

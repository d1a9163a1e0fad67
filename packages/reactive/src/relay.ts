import type { AmqpConnection, AmqpMessage, SendResult } from '@dragoman/amqp';
import { Outlet } from './outlet';
import type { ReceivedMessage } from './received-message';
import { receiverPublisher } from './receiver-publisher';
import { senderSubscriber } from './sender-subscriber';
import { requireArgument } from './to-error';
import {
  type Processor,
  type Relay,
  type RelayOptions,
  type Subscriber,
  type SubscriberErrorHandler,
  type Subscription,
  UNBOUNDED,
} from './types';

/**
 * A Processor from received messages to messages to send that keeps acknowledgement end to end: each
 * received message is settled with the outcome its forwarded copy got downstream (accepted → accept,
 * rejected → reject, released or no outcome → release, modified → modify), by `settle`. Demand passes
 * straight through: upstream is asked for exactly what downstream asked for, so with a receiverPublisher
 * upstream and a senderSubscriber downstream the receiver grants credit only as the sender gets it.
 *
 * One downstream subscriber (unicast): a second `subscribe` gets `onSubscribe` then `onError`.
 */
export class RelayProcessor implements Processor<ReceivedMessage, AmqpMessage> {
  readonly #transform: (received: ReceivedMessage) => AmqpMessage;
  readonly #onSubscriberError: SubscriberErrorHandler | undefined;
  /** Forwarded copies waiting for their outcome, by identity. Bounded by downstream's credit. */
  readonly #inFlight = new Map<AmqpMessage, ReceivedMessage>();
  #upstream: Subscription | undefined;
  #outlet: Outlet<AmqpMessage> | undefined;
  /** Requested from upstream and not received yet. */
  #requested = 0;
  #upstreamEnd: { readonly error: Error | undefined } | undefined;

  constructor(
    options: {
      /** Builds the message to forward. Default: the received message as it is. */
      readonly transform?: (received: ReceivedMessage) => AmqpMessage;
      readonly onSubscriberError?: SubscriberErrorHandler;
    } = {},
  ) {
    // Each delivery decodes to a message object of its own: it can serve as the key of its outcome.
    this.#transform = options.transform ?? ((received) => received.message);
    this.#onSubscriberError = options.onSubscriberError;
  }

  /** Messages forwarded and waiting for their outcome downstream. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  subscribe(subscriber: Subscriber<AmqpMessage>): void {
    requireArgument(subscriber, '§1.9', 'subscriber');
    if (this.#outlet !== undefined) {
      const refused = new Outlet(subscriber, { onDemand: () => undefined, onCancel: () => undefined });
      refused.start();
      refused.fail(new Error('RelayProcessor serves one subscriber'));
      return;
    }
    const outlet = new Outlet<AmqpMessage>(
      subscriber,
      { onDemand: () => this.#requestUpstream(), onCancel: () => this.#cancelUpstream() },
      this.#onSubscriberError,
    );
    this.#outlet = outlet;
    outlet.start();
    const end = this.#upstreamEnd;
    if (end !== undefined) this.#end(end.error);
  }

  onSubscribe(subscription: Subscription): void {
    requireArgument(subscription, '§2.13', 'subscription');
    if (this.#upstream !== undefined) {
      subscription.cancel(); // §2.5
      return;
    }
    this.#upstream = subscription;
    // Downstream may have gone already (cancelled before upstream attached): let go of upstream at once.
    if (this.#outlet !== undefined && !this.#outlet.active) {
      subscription.cancel();
      return;
    }
    this.#requestUpstream();
  }

  onNext(received: ReceivedMessage): void {
    requireArgument(received, '§2.13', 'received');
    if (this.#requested > 0 && this.#requested < UNBOUNDED) this.#requested -= 1;
    const forwarded = this.#transform(received);
    this.#inFlight.set(forwarded, received);
    this.#outlet?.push(forwarded);
  }

  onError(error: Error): void {
    requireArgument(error, '§2.13', 'error');
    this.#upstreamEnd ??= { error };
    this.#end(error);
  }

  onComplete(): void {
    this.#upstreamEnd ??= { error: undefined };
    this.#end(undefined);
  }

  /** Settles the received message a forwarded one came from, with the outcome it got downstream. */
  settle(forwarded: AmqpMessage, result: SendResult | undefined): void {
    const received = this.#inFlight.get(forwarded);
    if (received === undefined) return;
    this.#inFlight.delete(forwarded);
    if (!received.settleable) {
      received.lose();
      return;
    }
    switch (result?.state) {
      case 'accepted':
      case 'sent':
        received.accept();
        break;
      case 'rejected':
        received.reject(result.error);
        break;
      case 'modified':
        received.modify({
          deliveryFailed: result.deliveryFailed,
          undeliverableHere: result.undeliverableHere,
          ...(result.messageAnnotations !== undefined
            ? { messageAnnotations: result.messageAnnotations }
            : {}),
        });
        break;
      default:
        received.release(); // released, or no outcome at all (link lost): let the source redeliver
    }
  }

  #requestUpstream(): void {
    const outlet = this.#outlet;
    const upstream = this.#upstream;
    if (outlet === undefined || upstream === undefined || !outlet.active || this.#upstreamEnd !== undefined) {
      return;
    }
    if (outlet.outstanding >= UNBOUNDED) {
      if (this.#requested < UNBOUNDED) {
        this.#requested = UNBOUNDED;
        upstream.request(UNBOUNDED);
      }
      return;
    }
    const want = outlet.outstanding - outlet.queued - this.#requested;
    if (want <= 0) return;
    this.#requested += want;
    upstream.request(want);
  }

  #cancelUpstream(): void {
    if (this.#upstreamEnd === undefined) this.#upstream?.cancel();
    this.#releaseAll();
  }

  #end(error: Error | undefined): void {
    const outlet = this.#outlet;
    if (outlet === undefined) return;
    if (error === undefined) outlet.finish();
    else outlet.fail(error);
  }

  #releaseAll(): void {
    for (const forwarded of [...this.#inFlight.keys()]) this.settle(forwarded, undefined);
  }
}

/**
 * Relays every message from address `from` to address `to` with end-to-end back-pressure and
 * acknowledgement: the receiver link gets credit only as the sender link gets it, and a message is settled
 * at the source with the outcome its copy got at the target. It stops when either side detaches.
 */
export function relay(
  connection: AmqpConnection,
  from: string,
  to: string,
  options: RelayOptions = {},
): Relay {
  const processor = new RelayProcessor(options.transform ? { transform: options.transform } : {});
  const sink = senderSubscriber(options.targetConnection ?? connection, to, {
    ...options.target,
    onOutcome: (report) => {
      processor.settle(report.message, report.result);
      options.target?.onOutcome?.(report);
    },
  });
  processor.subscribe(sink);
  receiverPublisher(connection, from, { ...options.source, settlement: 'manual' }).subscribe(processor);
  return { done: sink.done, processor };
}

export { addDemand, checkRequest } from './demand';
export {
  BufferOverflowError,
  CreditExceededError,
  IllegalDemandError,
  NotProcessedError,
  SubscriberViolationError,
} from './errors';
export { fromAsyncIterable } from './from-async-iterable';
export { DEFAULT_BUFFER_SIZE, fromObservable } from './from-observable';
export { ReceivedMessage } from './received-message';
export { DEFAULT_UNBOUNDED_CREDIT_WINDOW, MAX_LINK_CREDIT, receiverPublisher } from './receiver-publisher';
export { RelayProcessor, relay } from './relay';
export { SenderSubscriber, senderSubscriber } from './sender-subscriber';
export { isSettleable } from './settleable';
export { sendIterable, sendObservable } from './sinks';
export { toAsyncIterable } from './to-async-iterable';
export { DEFAULT_PREFETCH, toObservable } from './to-observable';
export {
  type FailureOutcome,
  type FromAsyncIterableOptions,
  type FromObservableOptions,
  type OverflowPolicy,
  type Processor,
  type Publisher,
  type ReceiverPublisherOptions,
  type Relay,
  type RelayOptions,
  type SendCounts,
  type SenderEnd,
  type SenderSubscriberOptions,
  type SenderSummary,
  type SendObservableOptions,
  type SendReport,
  type Settleable,
  type Settlement,
  type SettlementPolicy,
  type Subscriber,
  type SubscriberErrorHandler,
  type Subscription,
  type ToAsyncIterableOptions,
  type ToObservableOptions,
  UNBOUNDED,
} from './types';

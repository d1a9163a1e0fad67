export { addDemand, checkRequest } from './demand';
export {
  BufferOverflowError,
  CreditExceededError,
  IllegalDemandError,
  NotProcessedError,
  SubscriberViolationError,
} from './errors';
export { type FromAsyncIterableOptions, fromAsyncIterable } from './from-async-iterable';
export { DEFAULT_BUFFER_SIZE, type FromObservableOptions, fromObservable } from './from-observable';
export { ReceivedMessage, type Settlement } from './received-message';
export {
  DEFAULT_UNBOUNDED_CREDIT_WINDOW,
  type FailureOutcome,
  MAX_LINK_CREDIT,
  type ReceiverPublisherOptions,
  receiverPublisher,
  type SettlementPolicy,
} from './receiver-publisher';
export { type Relay, type RelayOptions, RelayProcessor, relay } from './relay';
export {
  type SendCounts,
  type SenderEnd,
  SenderSubscriber,
  type SenderSubscriberOptions,
  type SenderSummary,
  type SendReport,
  senderSubscriber,
} from './sender-subscriber';
export { isSettleable } from './settleable';
export { type SendObservableOptions, sendIterable, sendObservable } from './sinks';
export { type ToAsyncIterableOptions, toAsyncIterable } from './to-async-iterable';
export { DEFAULT_PREFETCH, type ToObservableOptions, toObservable } from './to-observable';
export {
  type OverflowPolicy,
  type Processor,
  type Publisher,
  type Settleable,
  type Subscriber,
  type SubscriberErrorHandler,
  type Subscription,
  UNBOUNDED,
} from './types';

import type { AmqpConnection, AmqpMessage } from '@dragoman/amqp';
import type { Observable } from 'rxjs';
import { fromAsyncIterable } from './from-async-iterable';
import { fromObservable } from './from-observable';
import { senderSubscriber } from './sender-subscriber';
import type { SenderSubscriberOptions, SenderSummary, SendObservableOptions } from './types';

/**
 * Sends everything an (async) iterable yields to `address`, pulling the next message only when the peer
 * has granted credit for it: true pull back-pressure, nothing buffered. Resolves when the link is closed:
 * cleanly once the iterable ended and every outcome came back, with an error condition if it threw.
 */
export function sendIterable(
  connection: AmqpConnection,
  address: string,
  messages: AsyncIterable<AmqpMessage> | Iterable<AmqpMessage>,
  options: SenderSubscriberOptions = {},
): Promise<SenderSummary> {
  const sink = senderSubscriber(connection, address, options);
  fromAsyncIterable(messages).subscribe(sink);
  return sink.done;
}

/**
 * Sends what an Observable emits to `address`. An Observable cannot be paused, so messages wait for credit
 * in a bounded buffer (default 256) with an explicit overflow policy (default `'error'`: the link is closed
 * with an error condition and the Observable unsubscribed). Resolves when the link is closed.
 */
export function sendObservable(
  connection: AmqpConnection,
  address: string,
  messages: Observable<AmqpMessage>,
  options: SendObservableOptions = {},
): Promise<SenderSummary> {
  const sink = senderSubscriber(connection, address, options);
  fromObservable(messages, options.buffer).subscribe(sink);
  return sink.done;
}

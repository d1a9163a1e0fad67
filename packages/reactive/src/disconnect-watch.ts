import type { AmqpConnection } from '@dragoman/amqp';

interface Watch {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

/** One 'disconnected' listener per connection, whatever the number of subscriptions on it. */
const watches = new WeakMap<AmqpConnection, Watch>();

/** Calls `callback` each time `connection` drops (before it reconnects). Returns the function that stops it. */
export function watchDisconnects(connection: AmqpConnection, callback: () => void): () => void {
  let watch = watches.get(connection);
  if (watch === undefined) {
    const callbacks = new Set<() => void>();
    watch = {
      callbacks,
      listener: () => {
        for (const each of [...callbacks]) each();
      },
    };
    watches.set(connection, watch);
    connection.on('disconnected', watch.listener);
  }
  const current = watch;
  current.callbacks.add(callback);
  return () => {
    current.callbacks.delete(callback);
    if (current.callbacks.size > 0 || watches.get(connection) !== current) return;
    watches.delete(connection);
    connection.off('disconnected', current.listener);
  };
}

import { InvalidArgumentError } from './errors';
import { PipeEnd, refusedPipe } from './internal/memory-pipe';
import type { InProcessTransportOptions } from './types';

/**
 * An in-process AMQP transport: the listener given it (`listen({ inProcess })`) also accepts the connections
 * that `connect({ inProcess })` opens from the same process. Everything on such a connection is the same
 * AMQP 1.0 as over TCP (protocol header, SASL, open, sessions, links, encoded frames); only the bytes travel
 * through memory instead of a loopback socket: no system call, no kernel buffer, and the frames written in one
 * turn of the event loop arrive together.
 *
 * Meant for a host application that runs an AMQP peer (e.g. the embedded backend) and its own clients of it
 * in one process. Peers elsewhere keep using the listener's TCP or TLS port. In-process connections have no
 * heartbeats (no idle time-out: there is no network that could fail silently) and no TLS.
 *
 * With `handOffMessages`, messages are not encoded either (see `InProcessTransportOptions`).
 */
export class InProcessTransport {
  /** Shown as the peer's address in logs. */
  readonly name: string;
  /** Messages cross as objects, not bytes (`InProcessTransportOptions.handOffMessages`). */
  readonly handOffMessages: boolean;
  #accept: ((socket: PipeEnd) => void) | undefined;

  constructor(name = 'in-process', options: InProcessTransportOptions = {}) {
    this.name = name;
    this.handOffMessages = options.handOffMessages ?? false;
  }

  /** Whether a listener is accepting on it. */
  get bound(): boolean {
    return this.#accept !== undefined;
  }

  /** @internal A listener starts accepting. One listener per transport. */
  bind(accept: (socket: PipeEnd) => void): void {
    if (this.#accept !== undefined)
      throw new InvalidArgumentError(`in-process transport '${this.name}' already has a listener`);
    this.#accept = accept;
  }

  /** @internal The listener stops accepting (its open connections are its own to close). */
  unbind(accept: (socket: PipeEnd) => void): void {
    if (this.#accept === accept) this.#accept = undefined;
  }

  /**
   * @internal Opens a connection: returns the client's end, hands the other to the listener, and calls
   * `onConnect` on the next tick (as `net.connect` would). Without a listener, the end reports ECONNREFUSED.
   */
  dial(onConnect: () => void): PipeEnd {
    const accept = this.#accept;
    if (accept === undefined) {
      const error = Object.assign(new Error(`nothing listens on in-process transport '${this.name}'`), {
        code: 'ECONNREFUSED',
      });
      return refusedPipe(this.name, error);
    }
    const [client, server] = PipeEnd.pair(this.name, this.handOffMessages);
    accept(server);
    process.nextTick(onConnect);
    return client;
  }
}

/** A new in-process transport, to give to one `listen()` and to any number of `connect()` calls. */
export function createInProcessTransport(
  name?: string,
  options?: InProcessTransportOptions,
): InProcessTransport {
  return new InProcessTransport(name, options);
}

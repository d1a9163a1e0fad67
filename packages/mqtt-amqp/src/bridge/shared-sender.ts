import type { AmqpConnection, AmqpMessage, Sender, SendResult } from '@dragoman/amqp';
import type { LinkNames } from './link-names';

/**
 * Client id from which the shared links' names derive (`$mqtt-gateway/subscriptions`). Any string may be an MQTT
 * client id, so the connection's name registry still keeps them apart (`LinkNames`).
 */
const SHARED_LINK_OWNER = '$mqtt-gateway';

/**
 * Requests that may wait for credit on one shared link. Every client of the connection sends its session
 * requests there, so this bounds them all together; beyond it a request fails (`SendQueueFullError`), which the
 * bridge answers as it answers a refused one (CONNACK "server unavailable", SUBACK failure).
 */
export const SHARED_SENDER_MAX_QUEUED = 10_000;

/** How a shared link is attached. */
export interface SharedSenderOptions {
  readonly connection: AmqpConnection;
  readonly names: LinkNames;
  /** Target address (the Subscription service's). */
  readonly address: string;
  /** What the link is for, in its name (`$mqtt-gateway/<purpose>`). */
  readonly purpose: string;
  readonly attachTimeoutMs: number;
}

/**
 * One at-least-once sender on an AMQP connection that every client on that connection shares: the link to
 * the Subscription service. The spec's requests name their client (`correlation-id` = the client's publish
 * address), so one link serves every client and an idle client holds no link of its own there. Attached on
 * first use; a link that fails to attach, or that the peer detaches, is attached again for the next request.
 */
export class SharedSender {
  #link: Sender | undefined;
  #attaching: Promise<Sender> | undefined;
  #name: string | undefined;
  #closed = false;

  constructor(private readonly options: SharedSenderOptions) {}

  /** The link, attached if it is not (yet). Rejects when the attach fails or the sender is closed. */
  get(): Promise<Sender> {
    if (this.#link?.isOpen === true) return Promise.resolve(this.#link);
    if (this.#attaching === undefined) {
      const attaching = this.#attach();
      this.#attaching = attaching;
      const done = (): void => {
        if (this.#attaching === attaching) this.#attaching = undefined;
      };
      attaching.then(done, done);
    }
    return this.#attaching;
  }

  /** The link when it is attached now. */
  get current(): Sender | undefined {
    return this.#link?.isOpen === true ? this.#link : undefined;
  }

  /**
   * Sends on the shared link (attaching it first if needed); requests go out in the order of the calls.
   * `signal` takes a request still waiting for credit off the link (its client has gone: the link is not its
   * own to detach), as detaching a client's own link did.
   */
  send(message: AmqpMessage, signal?: AbortSignal): Promise<SendResult> {
    const options = signal === undefined ? undefined : { signal };
    const link = this.current;
    if (link !== undefined && this.#attaching === undefined) return link.send(message, options);
    return this.get().then((attached) => attached.send(message, options));
  }

  /** Detaches the link (the connection is being given back); later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const link = this.#link ?? (await this.#attaching?.catch(() => undefined));
    this.#forget();
    await link?.close().catch(() => {});
  }

  async #attach(): Promise<Sender> {
    const { connection, names, address, purpose, attachTimeoutMs } = this.options;
    if (this.#closed) throw new Error('the shared link is closed');
    const name = names.claimDerived(SHARED_LINK_OWNER, purpose);
    this.#name = name;
    try {
      const link = await connection.openSender({
        name,
        target: address,
        guarantee: 'at-least-once',
        attachTimeoutMs,
        maxQueued: SHARED_SENDER_MAX_QUEUED,
      });
      if (this.#closed) {
        void link.close().catch(() => {});
        throw new Error('the shared link is closed');
      }
      this.#link = link;
      link.once('close', () => {
        if (this.#link === link) this.#forget();
      });
      return link;
    } catch (error) {
      this.#forget();
      throw error;
    }
  }

  #forget(): void {
    this.#link = undefined;
    if (this.#name !== undefined) this.options.names.release(this.#name);
    this.#name = undefined;
  }
}

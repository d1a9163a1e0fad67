/**
 * Watches whether the AMQP side answers: one small AMQP connection of its own, re-opened with back-off when it
 * is lost. A peer that refuses our SASL identity still counts as up (it answers; in pass-through mode the
 * gateway may have no identity of its own). Used by `/health` and the `dragoman_amqp_up` gauge.
 */
import { type AmqpConnection, type ConnectOptions, connect, SaslError } from '@dragoman/amqp';
import type { Logger } from 'pino';

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5_000;
/** How often a peer that refused our identity is asked again. */
const SASL_RECHECK_MS = 30_000;

export class AmqpMonitor {
  #connection: AmqpConnection | undefined;
  #up = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #delay = FIRST_RETRY_MS;
  readonly #abort = new AbortController();
  readonly #firstAnswer: Promise<void>;
  #answered: () => void = () => {};

  constructor(
    private readonly options: ConnectOptions,
    private readonly logger: Logger,
  ) {
    this.#firstAnswer = new Promise((resolve) => {
      this.#answered = resolve;
    });
    void this.#attempt();
  }

  get up(): boolean {
    return this.#up;
  }

  /** Resolves once the AMQP side answered (or `timeoutMs` passed, whichever first). */
  async firstAnswer(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#firstAnswer,
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    return this.#up;
  }

  async #attempt(): Promise<void> {
    if (this.#closed) return;
    try {
      const connection = await connect({
        ...this.options,
        reconnect: false,
        connectTimeoutMs: 5_000,
        containerId: `dragoman-health-${process.pid}`,
        signal: this.#abort.signal,
      });
      if (this.#closed) {
        await connection.close();
        return;
      }
      this.#connection = connection;
      this.#setUp(true);
      this.#delay = FIRST_RETRY_MS;
      connection.once('close', (info) => {
        this.#connection = undefined;
        if (this.#closed) return;
        this.logger.warn({ err: info.error }, 'AMQP side lost');
        this.#setUp(false);
        this.#schedule(FIRST_RETRY_MS);
      });
    } catch (error) {
      if (this.#closed) return;
      if (error instanceof SaslError) {
        this.#setUp(true);
        this.#schedule(SASL_RECHECK_MS);
        return;
      }
      this.#setUp(false);
      this.#answered();
      this.logger.debug({ err: error }, 'AMQP side not reachable yet');
      this.#schedule(this.#delay);
      this.#delay = Math.min(this.#delay * 2, MAX_RETRY_MS);
    }
  }

  #setUp(up: boolean): void {
    if (up && !this.#up) this.logger.info('AMQP side up');
    this.#up = up;
    if (up) this.#answered();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => void this.#attempt(), ms);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#connection?.close();
  }
}

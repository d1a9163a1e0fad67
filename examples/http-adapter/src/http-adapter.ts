import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Adapter,
  type AdapterContext,
  type Command,
  CommandLimitError,
  type DeviceSessionOptions,
  isValidDeviceId,
  type StartOptions,
  type StopOptions,
} from '@dragoman/adapter';
import { binaryMessage } from '@dragoman/amqp';
import { answerForError, answerForResult, type HttpAnswer } from './answers';
import { BodyTooLargeError, readBody } from './body';
import { deliverCommand } from './deliver-command';
import { DeviceSessions } from './device-sessions';

export interface HttpAdapterOptions {
  /** Adapter name (and the host's configuration section). Default `http`. */
  readonly name?: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default: `port` of the configuration section, else 8080. 0 picks a free port. */
  readonly port?: number;
  /** Largest telemetry body accepted, bytes; larger gets 413 without being read. Default 65 536. */
  readonly maxBodyBytes?: number;
  /** Content types accepted for telemetry (others get 415). Default JSON, octet-stream and plain text. */
  readonly contentTypes?: readonly string[];
  /** Longest command long-poll, ms; a client may ask for less with `?wait=<seconds>`. Default 25 000. */
  readonly longPollMs?: number;
  /** Retry-After of 503 answers, seconds. Default 1. */
  readonly retryAfterSeconds?: number;
  /** Device sessions kept open (least recently used idle one closed beyond). Default 1 000. */
  readonly maxDevices?: number;
  /** Options of each device session (credit and outcome time-outs, addresses, …). */
  readonly session?: DeviceSessionOptions;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_LONG_POLL_MS = 25_000;
export const DEFAULT_CONTENT_TYPES = ['application/json', 'application/octet-stream', 'text/plain'] as const;

const ROUTE = /^\/(telemetry|commands)\/([^/]+)$/;

/**
 * A device front end over HTTP, written against the public contract of @dragoman/adapter:
 * - `POST /telemetry/:device` publishes the body to `telemetry/<device>` (QoS 1, or `?qos=0`) and answers
 *   from the AMQP outcome (see `answers.ts`);
 * - `GET /commands/:device` long-polls one command from `commands/<device>` with credit 1: 200 with the
 *   command, accepted once the response is written; 204 when none came; released if the client went away.
 */
export class HttpAdapter implements Adapter {
  readonly name: string;
  readonly #options: HttpAdapterOptions;
  readonly #stopping = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #server: Server | undefined;
  #sessions: DeviceSessions | undefined;
  #context: AdapterContext | undefined;

  constructor(options: HttpAdapterOptions = {}) {
    this.name = options.name ?? 'http';
    this.#options = options;
  }

  /** The bound address, once started. */
  address(): AddressInfo {
    const address = this.#server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new Error('the HTTP adapter is not listening');
    }
    return address;
  }

  get url(): string {
    const { address, port } = this.address();
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  async start(context: AdapterContext, { signal }: StartOptions): Promise<void> {
    this.#context = context;
    this.#sessions = new DeviceSessions(
      context,
      this.#options.maxDevices ?? 1_000,
      this.#options.session ?? {},
    );
    const server = createServer((request, response) => {
      const handled = this.#handle(request, response).catch((error: unknown) => {
        context.logger.error({ err: error }, 'request failed');
        this.#send(response, answerForError(error, this.#retryAfter));
      });
      // A request is done when its handler returned and its response is written out (or its client left).
      const done = Promise.all([handled, closeOf(response)]).then(() => undefined);
      this.#inFlight.add(done);
      void done.finally(() => this.#inFlight.delete(done));
    });
    this.#server = server;
    const port = this.#options.port ?? numberOr(context.config.port, 8080);
    server.listen({ host: this.#options.host ?? '127.0.0.1', port, signal });
    await once(server, 'listening', { signal });
    server.on('error', (error) => context.fail(error));
    context.logger.info({ url: this.url }, 'HTTP adapter listening');
  }

  async stop({ signal }: StopOptions): Promise<void> {
    const server = this.#server;
    // Long polls end now (204: poll again, elsewhere); publishes in progress may finish until the deadline.
    this.#stopping.abort();
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.race([Promise.allSettled([...this.#inFlight]), abortOf(signal)]);
      // Every answer is written (or the deadline passed): what is still connected is idle or abandoned.
      server.closeAllConnections();
      await closed;
    }
    await this.#sessions?.closeAll();
  }

  get #retryAfter(): number {
    return this.#options.retryAfterSeconds ?? 1;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://device');
    const route = ROUTE.exec(url.pathname);
    if (route === null) return this.#reject(response, 404, 'not-found');
    const [, kind, rawDevice = ''] = route;
    let deviceId: string;
    try {
      deviceId = decodeURIComponent(rawDevice);
    } catch {
      return this.#reject(response, 400, 'bad-device-id');
    }
    if (!isValidDeviceId(deviceId)) return this.#reject(response, 400, 'bad-device-id');
    const method = kind === 'telemetry' ? 'POST' : 'GET';
    if (request.method !== method) {
      response.setHeader('allow', method);
      return this.#reject(response, 405, 'method-not-allowed');
    }
    if (kind === 'telemetry') return this.#publish(request, response, url, deviceId);
    return this.#poll(response, url, deviceId);
  }

  async #publish(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    deviceId: string,
  ): Promise<void> {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const accepted: readonly string[] = this.#options.contentTypes ?? DEFAULT_CONTENT_TYPES;
    if (!accepted.includes(contentType)) return this.#reject(response, 415, 'unsupported-content-type');
    const qosParam = url.searchParams.get('qos') ?? '1';
    if (qosParam !== '0' && qosParam !== '1') return this.#reject(response, 400, 'bad-qos');
    let body: Buffer;
    try {
      body = await readBody(request, this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return this.#reject(response, 413, 'body-too-large');
      throw error;
    }
    const session = await this.#sessions?.get(deviceId);
    if (session === undefined) return this.#busy(response);
    // A client that goes away while its message still waits for credit withdraws it.
    const gone = new AbortController();
    response.once('close', () => gone.abort(new Error('HTTP client went away')));
    try {
      const result = await session.publish(
        binaryMessage(body, {
          properties: { contentType },
          applicationProperties: { device: deviceId },
        }),
        { qos: qosParam === '0' ? 0 : 1, signal: gone.signal },
      );
      this.#send(response, answerForResult(result, this.#retryAfter));
    } catch (error) {
      if (gone.signal.aborted) return;
      this.#send(response, answerForError(error, this.#retryAfter));
    }
  }

  async #poll(response: ServerResponse, url: URL, deviceId: string): Promise<void> {
    const longPollMs = this.#options.longPollMs ?? DEFAULT_LONG_POLL_MS;
    const wait = url.searchParams.get('wait');
    const waitSeconds = wait === null ? longPollMs / 1000 : Number(wait);
    if (!Number.isFinite(waitSeconds) || waitSeconds < 0) return this.#reject(response, 400, 'bad-wait');
    const timeoutMs = Math.max(1, Math.min(longPollMs, Math.round(waitSeconds * 1000)));
    const session = await this.#sessions?.get(deviceId);
    if (session === undefined) return this.#busy(response);
    const gone = new AbortController();
    response.once('close', () => gone.abort());
    let command: Command | undefined;
    try {
      command = await session.receiveCommand({
        timeoutMs,
        signal: AbortSignal.any([gone.signal, this.#stopping.signal]),
      });
    } catch (error) {
      if (error instanceof CommandLimitError) return this.#reject(response, 429, 'too-many-polls');
      throw error;
    }
    if (command === undefined) {
      if (!response.destroyed) {
        response.writeHead(204);
        response.end();
      }
      return;
    }
    deliverCommand(response, command, (error) =>
      this.#context?.logger.debug({ err: error }, 'command could not be settled'),
    );
  }

  #busy(response: ServerResponse): void {
    this.#send(response, {
      status: 503,
      headers: { 'retry-after': String(this.#retryAfter) },
      body: { error: 'too-many-devices' },
    });
  }

  /**
   * Answers with an error. A body left unread is discarded by node:http after the answer (never buffered),
   * within the server's request time-out.
   */
  #reject(response: ServerResponse, status: number, error: string): void {
    this.#send(response, { status, headers: {}, body: { error } });
  }

  #send(response: ServerResponse, answer: HttpAnswer): void {
    if (response.headersSent || response.destroyed) return;
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, {
      ...answer.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  }
}

export function createHttpAdapter(options: HttpAdapterOptions = {}): HttpAdapter {
  return new HttpAdapter(options);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback;
}

function closeOf(response: ServerResponse): Promise<void> {
  if (response.closed) return Promise.resolve();
  return new Promise((resolve) => response.once('close', () => resolve()));
}

function abortOf(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

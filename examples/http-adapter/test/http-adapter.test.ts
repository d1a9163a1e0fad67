import { EventEmitter, once } from 'node:events';
import { type AdapterHost, runAdapters } from '@dragoman/adapter';
import {
  type AmqpListener,
  binaryMessage,
  type Delivery,
  listen,
  payloadOf,
  type Sender,
} from '@dragoman/amqp';
import rhea from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpAdapter, type HttpAdapter, type HttpAdapterOptions } from '../src/http-adapter';
import { RheaCommands } from './rhea-commands';

type Verdict = 'accept' | 'reject' | 'release';

/**
 * The `listen()` peer of @dragoman/amqp. It takes the adapter's telemetry links, granting credit (or, with
 * credit 0, withholding it) and settling each message as `verdict` says, and serves command links (but
 * has no node `commands/nowhere`).
 */
class AmqpSide extends EventEmitter<{ telemetry: [Delivery]; commandLink: [Sender] }> {
  readonly telemetry: Delivery[] = [];
  verdict: Verdict = 'accept';

  private constructor(
    readonly listener: AmqpListener,
    credit: number,
  ) {
    super();
    listener.on('connection', (connection) => {
      connection.on('incomingLink', (link) => {
        const address = link.address ?? '';
        if (link.role === 'receiver' && address.startsWith('telemetry/')) {
          // creditWindow 0 is manual credit, none ever granted: the adapter's sends wait for credit.
          const receiver = link.acceptReceiver({ creditWindow: credit });
          receiver.on('delivery', (delivery) => this.#settle(delivery));
        } else if (
          link.role === 'sender' &&
          address.startsWith('commands/') &&
          address !== 'commands/nowhere'
        ) {
          this.emit('commandLink', link.acceptSender());
        } else {
          link.refuse({ condition: 'amqp:not-found', description: `no node ${address}` });
        }
      });
    });
  }

  static async start(credit = 10): Promise<AmqpSide> {
    return new AmqpSide(await listen(), credit);
  }

  #settle(delivery: Delivery): void {
    this.telemetry.push(delivery);
    if (!delivery.presettled) {
      if (this.verdict === 'accept') delivery.accept();
      else if (this.verdict === 'release') delivery.release();
      else delivery.reject({ condition: 'amqp:unauthorized-access', description: 'device not enrolled' });
    }
    this.emit('telemetry', delivery);
  }
}

describe('http-adapter against the listen() peer', () => {
  let amqp: AmqpSide | undefined;
  let host: AdapterHost | undefined;
  let commands: RheaCommands | undefined;
  let adapter: HttpAdapter;

  afterEach(async () => {
    await host?.stop(5_000);
    await amqp?.listener.close();
    await commands?.close();
    host = undefined;
    amqp = undefined;
    commands = undefined;
  });

  /** The adapter on a rhea command side (rhea reports outcomes that arrive together with a detach). */
  async function startWithCommands(options: HttpAdapterOptions = {}): Promise<RheaCommands> {
    commands = await RheaCommands.start();
    adapter = createHttpAdapter({ port: 0, ...options });
    host = await runAdapters({ amqp: { url: commands.url, reconnect: false } }, [adapter]);
    return commands;
  }

  async function start(options: { credit?: number; adapter?: HttpAdapterOptions } = {}): Promise<AmqpSide> {
    amqp = await AmqpSide.start(options.credit);
    adapter = createHttpAdapter({ port: 0, ...options.adapter });
    host = await runAdapters({ amqp: { url: amqp.listener.url, reconnect: false } }, [adapter]);
    return amqp;
  }

  function post(path: string, body: string, contentType = 'application/json'): Promise<Response> {
    return fetch(`${adapter.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  }

  it('POST /telemetry/:device answers 202 once the AMQP peer accepted the message', async () => {
    const side = await start();
    const response = await post('/telemetry/sensor-1', '{"celsius":21.5}');
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ outcome: 'accepted' });
    const [delivery] = side.telemetry;
    expect(delivery?.message.properties?.contentType).toBe('application/json');
    expect(delivery?.message.applicationProperties).toEqual({ device: 'sensor-1' });
    expect(payloadOf(delivery?.message ?? {}).toString()).toBe('{"celsius":21.5}');
    expect(delivery?.presettled).toBe(false);
  });

  it('sends pre-settled with ?qos=0 and answers 202 sent', async () => {
    const side = await start();
    const response = await post('/telemetry/sensor-1?qos=0', 'hello', 'text/plain');
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ outcome: 'sent' });
    if (side.telemetry.length === 0) await once(side, 'telemetry', { signal: AbortSignal.timeout(10_000) });
    expect(side.telemetry[0]?.presettled).toBe(true);
  });

  it('answers 502 with the condition when the AMQP peer rejects, 503 with Retry-After when it releases', async () => {
    const side = await start();
    side.verdict = 'reject';
    const rejected = await post('/telemetry/sensor-1', '{}');
    expect(rejected.status).toBe(502);
    expect(await rejected.json()).toEqual({
      outcome: 'rejected',
      condition: 'amqp:unauthorized-access',
      description: 'device not enrolled',
    });
    side.verdict = 'release';
    const released = await post('/telemetry/sensor-1', '{}');
    expect(released.status).toBe(503);
    expect(released.headers.get('retry-after')).toBe('1');
    expect(await released.json()).toEqual({ outcome: 'released' });
  });

  it('answers 503 with Retry-After when the AMQP peer grants no credit, and sends nothing', async () => {
    const side = await start({
      credit: 0,
      adapter: { retryAfterSeconds: 7, session: { creditTimeoutMs: 300 } },
    });
    const response = await post('/telemetry/sensor-1', '{}');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({ error: 'no-credit', reason: 'timeout' });
    expect(side.telemetry).toHaveLength(0);
  });

  it('answers 400, 404, 405, 413 and 415 to bad requests without sending anything', async () => {
    const side = await start({ adapter: { maxBodyBytes: 1024 } });
    expect((await post('/telemetry/bad%2Fid', '{}')).status).toBe(400);
    expect((await post(`/telemetry/${'x'.repeat(200)}`, '{}')).status).toBe(400);
    expect((await post('/telemetry/sensor-1?qos=2', '{}')).status).toBe(400);
    expect((await post('/telemetry/sensor-1', '{}', 'image/png')).status).toBe(415);
    expect((await post('/elsewhere/sensor-1', '{}')).status).toBe(404);
    const wrongMethod = await fetch(`${adapter.url}/telemetry/sensor-1`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    // Too large, declared up front.
    const declared = await post('/telemetry/sensor-1', 'x'.repeat(4096), 'text/plain');
    expect(declared.status).toBe(413);
    // Too large, streamed without a length: refused once the bound is crossed.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(120));
        controller.close();
      },
    });
    const streamed = await fetch(`${adapter.url}/telemetry/sensor-1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toEqual({ error: 'body-too-large' });
    // The adapter still works, and nothing of the refused requests reached AMQP.
    expect((await post('/telemetry/sensor-1', '{}')).status).toBe(202);
    expect(side.telemetry).toHaveLength(1);
  });

  it('GET /commands/:device long-polls one command and accepts it once the response is written', async () => {
    const side = await startWithCommands();
    const polling = fetch(`${adapter.url}/commands/valve-3?wait=20`);
    const link = await side.nextLink('commands/valve-3');
    // Credit 1: the poll asks for exactly one command.
    expect(link.credit).toBe(1);
    const fate = side.send(link, {
      body: rhea.message.data_section(Buffer.from('{"open":true}')),
      content_type: 'application/json',
      message_id: 'cmd-1',
    });
    const response = await polling;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-message-id')).toBe('cmd-1');
    expect(await response.text()).toBe('{"open":true}');
    expect(await fate).toBe('accepted');
  });

  it('hands commands from the listen() peer over, one link for consecutive polls', async () => {
    const side = await start();
    const linked = once(side, 'commandLink', { signal: AbortSignal.timeout(10_000) });
    const first = fetch(`${adapter.url}/commands/valve-3?wait=20`);
    const [sender] = (await linked) as [Sender];
    await sender.whenSendable({ signal: AbortSignal.timeout(10_000) });
    const outcome = sender.send(binaryMessage('open', { properties: { contentType: 'text/plain' } }));
    expect(await (await first).text()).toBe('open');
    expect(await outcome).toEqual({ state: 'accepted' });
    // The next poll grants credit on the same link.
    const second = fetch(`${adapter.url}/commands/valve-3?wait=20`);
    await sender.whenSendable({ signal: AbortSignal.timeout(10_000) });
    const again = sender.send(binaryMessage('close'));
    expect(await (await second).text()).toBe('close');
    expect(await again).toEqual({ state: 'accepted' });
  });

  it('answers 204 when no command came within the poll, and 502 when the AMQP peer has no such node', async () => {
    await startWithCommands();
    const response = await fetch(`${adapter.url}/commands/valve-3?wait=0.2`);
    expect(response.status).toBe(204);
    await host?.stop(5_000);
    await start();
    const refused = await fetch(`${adapter.url}/commands/nowhere?wait=0.2`);
    expect(refused.status).toBe(502);
    expect(await refused.json()).toMatchObject({ error: 'refused', condition: 'amqp:not-found' });
  });

  it('never takes a command for an HTTP client that went away; the next poll gets it', async () => {
    const side = await startWithCommands();
    const client = new AbortController();
    const abandoned = fetch(`${adapter.url}/commands/valve-3?wait=20`, { signal: client.signal });
    abandoned.catch(() => undefined);
    const first = await side.nextLink('commands/valve-3');
    const detached = once(first, 'sender_close', { signal: AbortSignal.timeout(10_000) });
    client.abort();
    // The adapter detaches the poll's link without having taken anything.
    await detached;

    const polling = fetch(`${adapter.url}/commands/valve-3?wait=20`);
    const second = await side.nextLink('commands/valve-3');
    const fate = side.send(second, { body: 'close-valve' });
    const response = await polling;
    expect(await response.text()).toBe('close-valve');
    expect(await fate).toBe('accepted');
  });

  it('answers 429 to a second concurrent poll beyond the session limit', async () => {
    const side = await startWithCommands({ session: { maxCommandReceivers: 1 } });
    const first = fetch(`${adapter.url}/commands/valve-3?wait=20`);
    const link = await side.nextLink('commands/valve-3');
    const second = await fetch(`${adapter.url}/commands/valve-3?wait=20`);
    expect(second.status).toBe(429);
    expect(await second.json()).toEqual({ error: 'too-many-polls' });
    const fate = side.send(link, { body: 'ping' });
    expect((await first).status).toBe(200);
    expect(await fate).toBe('accepted');
  });

  it('ends long polls with 204 when the host stops it, and stops cleanly', async () => {
    const side = await startWithCommands();
    const url = adapter.url;
    const polling = fetch(`${url}/commands/valve-3?wait=20`);
    await side.nextLink('commands/valve-3');
    const report = await host?.stop(5_000);
    expect((await polling).status).toBe(204);
    expect(report?.clean).toBe(true);
    await expect(fetch(`${url}/commands/valve-3`)).rejects.toThrow();
  });
});

/**
 * Endpoint behaviour that needs a client doing what mqtt.js never does on its own (re-sent QoS 2
 * packets, bursts of unacknowledged publishes, silence), driven over TCP with hand-made packets.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloseReason,
  encodePacket,
  type InboundPublish,
  MqttDecoder,
  type MqttEndpoint,
  type MqttPacket,
  type ProtocolVersion,
  type UnknownPubrel,
} from '../src/index';
import { type Harness, next, rawSocket, startServer, TIMEOUT_MS, until } from './support/harness';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** A raw client: writes packets, collects decoded packets, waits for a given one. */
class RawClient {
  readonly packets: MqttPacket[] = [];
  private readonly decoder: MqttDecoder;

  constructor(
    readonly socket: net.Socket,
    readonly version: ProtocolVersion,
  ) {
    this.decoder = new MqttDecoder({ protocolVersion: version });
    socket.on('data', (chunk: Buffer) => this.packets.push(...this.decoder.decode(chunk)));
  }

  send(...packets: MqttPacket[]): void {
    this.socket.write(Buffer.concat(packets.map((p) => encodePacket(p, this.version))));
  }

  /** Waits until `count` packets matching `predicate` have arrived; returns them. */
  async waitFor(predicate: (p: MqttPacket) => boolean, count = 1): Promise<MqttPacket[]> {
    const matching = (): MqttPacket[] => this.packets.filter(predicate);
    await until(() => matching().length >= count, this.socket, ['data']);
    return matching();
  }
}

/** A raw client's CONNECT (clean, client id 'raw') reaching a new server; the endpoint is not accepted yet. */
async function connecting(
  version: ProtocolVersion,
  options: Parameters<typeof startServer>[0] = {},
  connect: { keepalive?: number; properties?: Record<string, unknown> } = {},
): Promise<{ endpoint: MqttEndpoint; client: RawClient }> {
  harness = await startServer(options);
  const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
  const client = new RawClient(await rawSocket(harness.port), version);
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clean: true,
    keepalive: connect.keepalive ?? 0,
    clientId: 'raw',
    ...(connect.properties !== undefined ? { properties: connect.properties } : {}),
  } as MqttPacket);
  const [endpoint] = await endpointPromise;
  return { endpoint, client };
}

async function connect(
  version: ProtocolVersion,
  options: Parameters<typeof startServer>[0] = {},
  keepalive = 0,
): Promise<{ endpoint: MqttEndpoint; client: RawClient }> {
  const { endpoint, client } = await connecting(version, options, { keepalive });
  endpoint.accept();
  await client.waitFor((p) => p.cmd === 'connack');
  return { endpoint, client };
}

const qos2 = (messageId: number, dup = false): MqttPacket => ({
  cmd: 'publish',
  topic: 'q2',
  payload: Buffer.from(`m${messageId}`),
  qos: 2,
  retain: false,
  dup,
  messageId,
});

describe('MQTT 5 request problem information', () => {
  it.each([
    [true, { reasonString: 'stored' }],
    [false, undefined],
  ] as const)('requestProblemInformation %s: PUBACK properties %o', async (request, expected) => {
    const { endpoint, client } = await connecting(
      5,
      {},
      { properties: { requestProblemInformation: request } },
    );
    endpoint.on('publish', (m) => m.ack({ properties: { reasonString: 'stored' } }));
    endpoint.accept();
    client.send({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      dup: false,
      messageId: 1,
    });
    const [puback] = await client.waitFor((p) => p.cmd === 'puback');
    expect((puback as { properties?: unknown }).properties).toEqual(expected);
  });
});

describe('packets sent right behind CONNECT', () => {
  it('wait for accept() and reach listeners attached right after it', async () => {
    harness = await startServer();
    const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
    const client = new RawClient(await rawSocket(harness.port), 4);
    client.send(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
        clientId: 'eager',
      },
      {
        cmd: 'publish',
        topic: 'early',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        messageId: 1,
      },
    );
    const [endpoint] = await endpointPromise;
    await new Promise((resolve) => setImmediate(resolve)); // the host answers later (authentication, ...)
    endpoint.accept();
    const received = next<[InboundPublish]>(endpoint, 'publish');
    const [message] = await received;
    expect(message.topic).toBe('early');
    message.ack();
    await client.waitFor((p) => p.cmd === 'puback');
    expect(client.packets.map((p) => p.cmd)).toEqual(['connack', 'puback']);
  });
});

describe('MQTT 5 server keep-alive imposed by the host', () => {
  it('enforces the serverKeepAlive the host put in the CONNACK', async () => {
    const { endpoint, client } = await connecting(5);
    expect(endpoint.keepAliveSeconds).toBe(0);
    endpoint.accept({ properties: { serverKeepAlive: 1 } });
    expect(endpoint.keepAliveSeconds).toBe(1);
    const [reason] = await next<[CloseReason]>(endpoint, 'close');
    expect(reason).toEqual({ kind: 'keep-alive-timeout' });
    expect(client.packets[0]).toMatchObject({ cmd: 'connack', properties: { serverKeepAlive: 1 } });
  });
});

describe('MQTT 5 limits the host tightens in accept()', () => {
  async function accepted(properties: Record<string, number>) {
    const { endpoint, client } = await connecting(5);
    endpoint.accept({ properties });
    await client.waitFor((p) => p.cmd === 'connack');
    return { endpoint, client };
  }

  it('enforces the maximum packet size it announced', async () => {
    const { endpoint, client } = await accepted({ maximumPacketSize: 64 });
    expect(client.packets[0]).toMatchObject({ properties: { maximumPacketSize: 64 } });
    const closed = next<[CloseReason]>(endpoint, 'close');
    client.send({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.alloc(100),
      qos: 0,
      retain: false,
      dup: false,
    });
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x95 });
  });

  it('enforces the receive maximum it announced: one more unacknowledged PUBLISH is DISCONNECT 0x93', async () => {
    const { endpoint, client } = await accepted({ receiveMaximum: 1 });
    expect(client.packets[0]).toMatchObject({ properties: { receiveMaximum: 1 } });
    endpoint.on('publish', () => {}); // never answered
    const closed = next<[CloseReason]>(endpoint, 'close');
    client.send(qos1Publish(1), qos1Publish(2));
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x93 });
    const [disconnect] = await client.waitFor((p) => p.cmd === 'disconnect');
    expect(disconnect).toMatchObject({ reasonCode: 0x93 });
  });
});

describe.each([4, 5] as const)('outbound topic names (protocol version %i)', (version) => {
  it('a bad topic after good ones on the same topic is still refused, and the good one still goes', async () => {
    const { endpoint, client } = await connect(version);
    await endpoint.publish({ topic: 'a/b/c', payload: 'x' });
    await endpoint.publish({ topic: 'a/b/c', payload: 'y' });
    await expect(endpoint.publish({ topic: 'a/+/c', payload: 'z' })).rejects.toMatchObject({
      code: 'invalid-message',
    });
    await expect(endpoint.publish({ topic: `${'a/'.repeat(129)}c`, payload: 'z' })).rejects.toMatchObject({
      code: 'invalid-message',
    });
    await endpoint.publish({ topic: 'a/b/c', payload: 'w' });
    const publishes = await client.waitFor((p) => p.cmd === 'publish', 3);
    expect(publishes.map((p) => (p as { payload: Buffer }).payload.toString())).toEqual(['x', 'y', 'w']);
  });
});

describe('MQTT 5 outbound topic aliases chosen by the host', () => {
  it('binds and uses aliases within the client maximum; pending messages keep the full topic', async () => {
    const { endpoint, client } = await connecting(5, {}, { properties: { topicAliasMaximum: 2 } });
    endpoint.accept();
    void endpoint.publish({ topic: 'long/topic/name', payload: 'a', qos: 1, properties: { topicAlias: 1 } });
    void endpoint.publish({ topic: '', payload: 'b', qos: 1, properties: { topicAlias: 1 } });
    const publishes = await client.waitFor((p) => p.cmd === 'publish', 2);
    expect(
      publishes.map((p) => [(p as { topic: string }).topic, (p as { properties?: unknown }).properties]),
    ).toEqual([
      ['long/topic/name', { topicAlias: 1 }],
      ['', { topicAlias: 1 }],
    ]);
    expect(endpoint.pendingPublishes().map((p) => [p.message.topic, p.message.properties])).toEqual([
      ['long/topic/name', undefined],
      ['long/topic/name', undefined],
    ]);
    await expect(
      endpoint.publish({ topic: '', payload: 'c', properties: { topicAlias: 2 } }),
    ).rejects.toMatchObject({
      code: 'invalid-message',
    });
    await expect(
      endpoint.publish({ topic: 't', payload: 'c', properties: { topicAlias: 3 } }),
    ).rejects.toMatchObject({
      code: 'invalid-message',
    });
  });
});

describe.each([4, 5] as const)('protocol version %i', (version) => {
  it('does not deliver a re-sent QoS 2 PUBLISH twice before PUBREL, and repeats PUBREC', async () => {
    const { endpoint, client } = await connect(version);
    const delivered: InboundPublish[] = [];
    endpoint.on('publish', (m) => delivered.push(m));
    client.send(qos2(5), qos2(5, true)); // re-sent before the host answered
    await until(() => delivered.length === 1, endpoint, ['publish']);
    delivered[0]!.received();
    await client.waitFor((p) => p.cmd === 'pubrec');
    client.send(qos2(5, true)); // re-sent after PUBREC: PUBREC again, no delivery
    await client.waitFor((p) => p.cmd === 'pubrec', 2);
    expect(delivered).toHaveLength(1);
    delivered[0]!.complete(); // before PUBREL: PUBCOMP follows PUBREL
    const released = delivered[0]!.released();
    client.send({ cmd: 'pubrel', messageId: 5 });
    await released;
    const [pubcomp] = await client.waitFor((p) => p.cmd === 'pubcomp');
    expect(pubcomp).toMatchObject({ cmd: 'pubcomp', messageId: 5 });
    // The identifier is free again: a new PUBLISH with it is a new message.
    client.send(qos2(5));
    await until(() => delivered.length === 2, endpoint, ['publish']);
    expect(delivered.map((m) => m.dup)).toEqual([false, false]);
  });

  it('answers a PUBREL for an unknown packet identifier with PUBCOMP', async () => {
    const { client } = await connect(version);
    client.send({ cmd: 'pubrel', messageId: 9 });
    const [pubcomp] = await client.waitFor((p) => p.cmd === 'pubcomp');
    expect(pubcomp).toMatchObject(version === 5 ? { messageId: 9, reasonCode: 0x92 } : { messageId: 9 });
  });

  it('holds back publishes beyond receiveMaximum until the host has room', async () => {
    // MQTT 5 clients that do not count (pushback policy); 3.1.1 clients have no receive maximum to break.
    const { endpoint, client } = await connect(version, { receiveMaximum: 2, enforceReceiveMaximum: false });
    let outstanding = 0;
    let maxOutstanding = 0;
    const topics: string[] = [];
    endpoint.on('publish', (m) => {
      topics.push(m.topic);
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      // Acknowledge later, so that a server without flow control would deliver the whole burst first.
      setImmediate(() => {
        outstanding--;
        m.ack();
      });
    });
    client.send(
      ...Array.from(
        { length: 6 },
        (_, i): MqttPacket => ({
          cmd: 'publish',
          topic: `t/${i}`,
          payload: Buffer.from('x'),
          qos: 1,
          retain: false,
          dup: false,
          messageId: i + 1,
        }),
      ),
    );
    await client.waitFor((p) => p.cmd === 'puback', 6);
    expect(topics).toEqual(['t/0', 't/1', 't/2', 't/3', 't/4', 't/5']);
    expect(maxOutstanding).toBe(2);
  });

  it('still reads acknowledgements while the host is full, so answers may wait for them', async () => {
    // MQTT 5 clients that do not count (pushback policy); 3.1.1 clients have no receive maximum to break.
    const { endpoint, client } = await connect(version, { receiveMaximum: 2, enforceReceiveMaximum: false });
    const topics: string[] = [];
    let down: Promise<unknown> | undefined;
    endpoint.on('publish', (m) => {
      topics.push(m.topic);
      // The host answers only once the client has acknowledged a message sent to it: with two such
      // publishes it is full, and the client's PUBACK arrives behind a third PUBLISH.
      down ??= endpoint.publish({ topic: 'down', payload: 'x', qos: 1 });
      void down.then(() => m.ack());
    });
    const publish = (topic: string, messageId: number): MqttPacket => ({
      cmd: 'publish',
      topic,
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      dup: false,
      messageId,
    });
    client.send(publish('first', 1), publish('second', 2));
    const [sent] = await client.waitFor((p) => p.cmd === 'publish');
    const ack = { cmd: 'puback' as const, messageId: (sent as { messageId: number }).messageId };
    client.send(publish('third', 3), version === 5 ? { ...ack, reasonCode: 0 } : ack);
    await client.waitFor((p) => p.cmd === 'puback', 3);
    expect(topics).toEqual(['first', 'second', 'third']);
  });

  it('re-sends a pending PUBREL on resume and resolves on PUBCOMP', async () => {
    const { endpoint, client } = await connect(version);
    const outcome = endpoint.resend({
      messageId: 321,
      state: 'pubrel',
      message: { topic: 'r', payload: 'x', qos: 2 },
    });
    const [pubrel] = await client.waitFor((p) => p.cmd === 'pubrel');
    expect(pubrel).toMatchObject({ cmd: 'pubrel', messageId: 321 });
    client.send({ cmd: 'pubcomp', messageId: 321, ...(version === 5 ? { reasonCode: 0 } : {}) });
    await expect(outcome).resolves.toEqual({ reasonCode: 0 });
  });

  it('queues resent messages beyond the window and sends them as it opens', async () => {
    const { endpoint, client } = await connect(version, { outboundWindow: 1 });
    const outcomes = [1, 2, 3].map((id) =>
      endpoint.resend({
        messageId: id,
        state: 'publish',
        message: { topic: `r/${id}`, payload: 'x', qos: 1 },
      }),
    );
    expect(endpoint.inFlight).toBe(1);
    expect(endpoint.canPublish).toBe(false);
    for (const id of [1, 2, 3]) {
      const publishes = await client.waitFor((p) => p.cmd === 'publish', id);
      expect(publishes[id - 1]).toMatchObject({ messageId: id, dup: true, topic: `r/${id}` });
      client.send({ cmd: 'puback', messageId: id, ...(version === 5 ? { reasonCode: 0 } : {}) });
    }
    await Promise.all(outcomes);
    expect(endpoint.canPublish).toBe(true);
    expect(endpoint.pendingPublishes()).toEqual([]);
  });

  it('does not raise unhandled rejections for publishes the host does not wait for', async () => {
    const { endpoint, client } = await connect(version, { outboundWindow: 1 });
    void endpoint.publish({ topic: 'a', payload: 'x', qos: 1 }); // never acknowledged
    void endpoint.publish({ topic: 'a', payload: 'x', qos: 1 }); // window full: rejected at once
    await client.waitFor((p) => p.cmd === 'publish');
    const closed = next<[CloseReason]>(endpoint, 'close');
    client.socket.destroy();
    expect((await closed)[0].kind).toBe('connection-lost');
    expect(endpoint.pendingPublishes()).toHaveLength(1);
  });

  it('aborts its signal when it closes, also for a signal first asked for after the close', async () => {
    const first = await connect(version);
    const signal = first.endpoint.signal;
    expect(signal.aborted).toBe(false);
    const closed = next<[CloseReason]>(first.endpoint, 'close');
    first.client.socket.destroy();
    await closed;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(Error);
    const second = await connect(version);
    const closedToo = next<[CloseReason]>(second.endpoint, 'close');
    second.client.socket.destroy();
    await closedToo;
    expect(second.endpoint.signal.aborted).toBe(true);
  });

  it('stops waiting on abort while the message stays in flight until acknowledged', async () => {
    const { endpoint, client } = await connect(version, { outboundWindow: 1 });
    const controller = new AbortController();
    const outcome = endpoint.publish({ topic: 'a', payload: 'x', qos: 1 }, { signal: controller.signal });
    const [published] = await client.waitFor((p) => p.cmd === 'publish');
    controller.abort();
    await expect(outcome).rejects.toMatchObject({ code: 'aborted' });
    expect(endpoint.pendingPublishes()).toHaveLength(1);
    const waitAborted = new AbortController();
    const waiting = endpoint.windowOpen(waitAborted.signal);
    waitAborted.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    const open = endpoint.windowOpen();
    const messageId = (published as { messageId: number }).messageId;
    client.send({ cmd: 'puback', messageId, ...(version === 5 ? { reasonCode: 0 } : {}) });
    await open;
    expect(endpoint.inFlight).toBe(0);
  });

  it('closes on keep-alive expiry after 1.5 x the keep-alive', async () => {
    const { endpoint, client } = await connect(version, {}, 1);
    const closed = next<[CloseReason]>(endpoint, 'close');
    const socketClosed = once(client.socket, 'close', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const [reason] = await closed;
    expect(reason).toEqual({ kind: 'keep-alive-timeout' });
    await socketClosed;
    const last = client.packets.at(-1);
    if (version === 5) expect(last).toEqual({ cmd: 'disconnect', reasonCode: 0x8d });
    else expect(last?.cmd).toBe('connack');
  });
});

function qos1Publish(messageId: number, qos: 1 | 2 = 1, dup = false): MqttPacket {
  return { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos, retain: false, dup, messageId };
}

describe('MQTT 5 receive maximum on inbound PUBLISHes', () => {
  it('lets a client that waits for acknowledgements go on at the limit', async () => {
    const { endpoint, client } = await connect(5, { receiveMaximum: 2 });
    const held: InboundPublish[] = [];
    endpoint.on('publish', (m) => held.push(m));
    client.send(qos1Publish(1), qos1Publish(2));
    await until(() => held.length === 2, endpoint, ['publish']);
    held[0]!.ack();
    await client.waitFor((p) => p.cmd === 'puback');
    client.send(qos1Publish(3));
    await until(() => held.length === 3, endpoint, ['publish']);
    expect(endpoint.state).toBe('connected');
  });

  it('counts a QoS 2 PUBLISH until PUBCOMP, not until PUBREC', async () => {
    const { endpoint, client } = await connect(5, { receiveMaximum: 1 });
    endpoint.on('publish', (m) => m.received());
    const closed = next<[CloseReason]>(endpoint, 'close');
    client.send(qos1Publish(1, 2));
    await client.waitFor((p) => p.cmd === 'pubrec');
    client.send(qos1Publish(2, 2)); // PUBREL 1 not sent yet: two in flight
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x93 });
  });

  it('frees the place on PUBCOMP, and a re-sent PUBLISH (same identifier) is not counted twice', async () => {
    const { endpoint, client } = await connect(5, { receiveMaximum: 1 });
    endpoint.on('publish', (m) => {
      m.received();
      m.complete();
    });
    client.send(qos1Publish(1, 2), qos1Publish(1, 2, true));
    await client.waitFor((p) => p.cmd === 'pubrec', 2);
    client.send({ cmd: 'pubrel', messageId: 1 });
    await client.waitFor((p) => p.cmd === 'pubcomp');
    client.send(qos1Publish(2, 2));
    await client.waitFor((p) => p.cmd === 'pubrec' && p.messageId === 2);
    expect(endpoint.state).toBe('connected');
  });

  it('with enforceReceiveMaximum false, parks the excess instead (for clients that do not count)', async () => {
    const { endpoint, client } = await connect(5, { receiveMaximum: 1, enforceReceiveMaximum: false });
    let outstanding = 0;
    let maxOutstanding = 0;
    endpoint.on('publish', (m) => {
      maxOutstanding = Math.max(maxOutstanding, ++outstanding);
      setImmediate(() => {
        outstanding--;
        m.ack();
      });
    });
    client.send(qos1Publish(1), qos1Publish(2), qos1Publish(3));
    await client.waitFor((p) => p.cmd === 'puback', 3);
    expect(maxOutstanding).toBe(1);
    expect(endpoint.state).toBe('connected');
  });

  it('does not apply to MQTT 3.1.1 clients (no receive maximum): the excess is parked', async () => {
    const { endpoint, client } = await connect(4, { receiveMaximum: 1 });
    const held: InboundPublish[] = [];
    endpoint.on('publish', (m) => held.push(m));
    client.send(qos1Publish(1), qos1Publish(2));
    await until(() => held.length === 1, endpoint, ['publish']);
    held[0]!.ack();
    await until(() => held.length === 2, endpoint, ['publish']);
    held[1]!.ack();
    await client.waitFor((p) => p.cmd === 'puback', 2);
    expect(endpoint.state).toBe('connected');
  });
});

describe('a PUBREL for a QoS 2 flow of an earlier connection', () => {
  it('is handed to the host (pubrelUnknown); PUBCOMP is written when it completes', async () => {
    const { endpoint, client } = await connect(5);
    const releases: UnknownPubrel[] = [];
    endpoint.on('pubrelUnknown', (release) => releases.push(release));
    client.send({ cmd: 'pubrel', messageId: 9 });
    await until(() => releases.length === 1, endpoint, ['pubrelUnknown']);
    expect(releases[0]!.messageId).toBe(9);
    expect(client.packets.some((p) => p.cmd === 'pubcomp')).toBe(false);
    releases[0]!.complete();
    releases[0]!.complete(); // once only
    const [pubcomp] = await client.waitFor((p) => p.cmd === 'pubcomp');
    expect(pubcomp).toMatchObject({ messageId: 9, reasonCode: 0 });
  });

  it('holds the next one (and stops reading) while receiveMaximum wait for the host: none is answered early', async () => {
    const { endpoint, client } = await connect(5, { receiveMaximum: 2 });
    const releases: UnknownPubrel[] = [];
    endpoint.on('pubrelUnknown', (release) => releases.push(release));
    client.send(
      { cmd: 'pubrel', messageId: 1 },
      { cmd: 'pubrel', messageId: 2 },
      { cmd: 'pubrel', messageId: 3 },
    );
    await until(() => releases.length === 2, endpoint, ['pubrelUnknown']);
    expect(releases.map((r) => r.messageId)).toEqual([1, 2]);
    releases[0]!.complete(); // room: the held PUBREL 3 goes to the host
    expect(releases.map((r) => r.messageId)).toEqual([1, 2, 3]);
    releases[2]!.complete();
    const pubcomps = await client.waitFor((p) => p.cmd === 'pubcomp', 2);
    expect(
      pubcomps
        .map((p) => p as { messageId?: number; reasonCode?: number })
        .map((p) => [p.messageId, p.reasonCode]),
    ).toEqual([
      [1, 0],
      [3, 0],
    ]);
  });
});

describe('an inbound QoS 2 message waiting for PUBREL', () => {
  it('lets go of its payload once PUBREC is written (the flow state stays)', async () => {
    const { endpoint, client } = await connect(4);
    const messages: InboundPublish[] = [];
    endpoint.on('publish', (m) => messages.push(m));
    client.send(qos1Publish(4, 2));
    await until(() => messages.length === 1, endpoint, ['publish']);
    expect(messages[0]!.payload.toString()).toBe('x');
    messages[0]!.received();
    expect(messages[0]!.payload.length).toBe(0);
    messages[0]!.complete();
    client.send({ cmd: 'pubrel', messageId: 4 });
    const [pubcomp] = await client.waitFor((p) => p.cmd === 'pubcomp');
    expect(pubcomp).toMatchObject({ messageId: 4 });
  });
});

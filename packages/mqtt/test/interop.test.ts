/**
 * Interoperability with a real client (mqtt.js 5) at protocol versions 4 and 5, over loopback TCP.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { MqttClient, Packet } from 'mqtt';
import { describe, expect, it } from 'vitest';
import {
  type CloseReason,
  type InboundPublish,
  type MqttEndpoint,
  MqttPublishError,
  type PublishOutcome,
  ReasonCode,
} from '../src/index';
import { client, closedAfterEach, next, serverWithClient, startServer, until } from './support/harness';

const opened = closedAfterEach();

async function setup(
  version: 3 | 4 | 5,
  clientOptions: Parameters<typeof client>[1] = {},
  serverOptions: Parameters<typeof startServer>[0] = {},
): Promise<{ endpoint: MqttEndpoint; mqttClient: MqttClient }> {
  return serverWithClient(
    opened,
    { protocolVersion: version, clientId: 'c1', ...clientOptions },
    serverOptions,
  );
}

async function connected(version: 3 | 4 | 5, clientOptions = {}, serverOptions = {}) {
  const s = await setup(version, clientOptions, serverOptions);
  const connack = next(s.mqttClient, 'connect');
  s.endpoint.accept();
  await connack;
  return s;
}

/**
 * Holds the client's PUBACKs (mqtt.js processes inbound packets one at a time, so holding its
 * handleMessage callback would also hold everything after it; this holds only the PUBACK write).
 */
function holdPubacks(mqttClient: MqttClient) {
  type Send = (packet: Packet, cb?: () => void, ...rest: unknown[]) => void;
  const internals = mqttClient as unknown as { _sendPacket: Send };
  const original = internals._sendPacket.bind(mqttClient);
  const queue: (() => void)[] = [];
  const state = {
    released: 0,
    get count() {
      return queue.length;
    },
    releaseOne() {
      const send = queue.shift();
      if (send) {
        state.released++;
        send();
      }
    },
    releaseAll() {
      while (queue.length > 0) state.releaseOne();
    },
  };
  internals._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd === 'puback') {
      queue.push(() => original(packet, undefined, ...rest));
      cb?.();
      return;
    }
    original(packet, cb, ...rest);
  };
  return state;
}

/** Sends a QoS 0 marker from the server and waits for the client to get it: everything written before it has been processed by the client. */
async function roundTrip(endpoint: MqttEndpoint, mqttClient: MqttClient): Promise<void> {
  const marker = `marker/${Math.random()}`;
  const got = new Promise<void>((resolve) => {
    const onMessage = (topic: string): void => {
      if (topic === marker) {
        mqttClient.off('message', onMessage);
        resolve();
      }
    };
    mqttClient.on('message', onMessage);
  });
  await endpoint.publish({ topic: marker, payload: 'm', qos: 0 });
  await got;
}

describe.each([4, 5] as const)('mqtt.js protocol version %i', (version) => {
  it('accepts a connection and exposes the CONNECT fields', async () => {
    const { endpoint, mqttClient } = await setup(version, {
      clean: false,
      keepalive: 42,
      username: 'user',
      password: 'secret',
      ...(version === 5 ? { properties: { sessionExpiryInterval: 300, receiveMaximum: 7 } } : {}),
    });
    expect(endpoint.clientId).toBe('c1');
    expect(endpoint.protocolVersion).toBe(version);
    expect(endpoint.clean).toBe(false);
    expect(endpoint.keepAliveSeconds).toBe(42);
    expect(endpoint.username).toBe('user');
    expect(endpoint.password?.toString()).toBe('secret');
    if (version === 5) {
      expect(endpoint.connectProperties).toMatchObject({ sessionExpiryInterval: 300, receiveMaximum: 7 });
      expect(endpoint.sessionExpiryInterval).toBe(300);
      expect(endpoint.window).toBe(7);
    }
    const connack = next<[{ sessionPresent: boolean }]>(mqttClient, 'connect');
    endpoint.accept({ sessionPresent: true });
    const [packet] = await connack;
    expect(packet.sessionPresent).toBe(true);
    expect(endpoint.state).toBe('connected');
  });

  const rejections =
    version === 4
      ? [
          [ReasonCode.UnsupportedProtocolVersion, 1],
          [ReasonCode.ClientIdentifierNotValid, 2],
          [ReasonCode.ServerUnavailable, 3],
          [ReasonCode.BadUserNameOrPassword, 4],
          [ReasonCode.NotAuthorized, 5],
        ]
      : [
          [ReasonCode.UnspecifiedError, 0x80],
          [ReasonCode.ClientIdentifierNotValid, 0x85],
          [ReasonCode.BadUserNameOrPassword, 0x86],
          [ReasonCode.NotAuthorized, 0x87],
          [ReasonCode.ServerUnavailable, 0x88],
          [ReasonCode.ServerBusy, 0x89],
          [ReasonCode.Banned, 0x8a],
          [ReasonCode.QuotaExceeded, 0x97],
          [ReasonCode.ConnectionRateExceeded, 0x9f],
        ];
  it.each(rejections)(
    'rejects a connection with reason code 0x%s (client sees %s)',
    async (reasonCode, seen) => {
      const { endpoint, mqttClient } = await setup(version);
      const error = next<[Error & { code?: number }]>(mqttClient, 'error');
      const closed = next(endpoint, 'close');
      endpoint.reject(reasonCode);
      const [err] = await error;
      expect(err.code).toBe(seen);
      await closed;
      expect(endpoint.closeReason).toEqual({ kind: 'rejected', reasonCode });
    },
  );

  it('exposes the will', async () => {
    const { endpoint } = await setup(version, {
      will: {
        topic: 'status/c1',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: true,
        ...(version === 5 ? { properties: { willDelayInterval: 5, contentType: 'text/plain' } } : {}),
      },
    });
    expect(endpoint.will).toMatchObject({ topic: 'status/c1', qos: 1, retain: true });
    expect(endpoint.will?.payload.toString()).toBe('gone');
    if (version === 5)
      expect(endpoint.will?.properties).toEqual({ willDelayInterval: 5, contentType: 'text/plain' });
  });

  it('delivers client QoS 0 publishes', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const received = next<[InboundPublish]>(endpoint, 'publish');
    mqttClient.publish('a/b', 'hello', { qos: 0, retain: true });
    const [message] = await received;
    expect(message).toMatchObject({ topic: 'a/b', qos: 0, retain: true, dup: false });
    expect(message.payload.toString()).toBe('hello');
  });

  it('writes PUBACK for a client QoS 1 publish only when the host acknowledges', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const received = next<[InboundPublish]>(endpoint, 'publish');
    let acked = false;
    const done = new Promise<void>((resolve, reject) =>
      mqttClient.publish('a/b', 'one', { qos: 1 }, (err) => {
        acked = true;
        if (err) reject(err);
        else resolve();
      }),
    );
    const [message] = await received;
    expect(message.qos).toBe(1);
    await roundTrip(endpoint, mqttClient);
    expect(acked).toBe(false);
    message.ack();
    await done;
    expect(acked).toBe(true);
  });

  it('drives a client QoS 2 publish through PUBREC and PUBCOMP as the host decides', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const received = next<[InboundPublish]>(endpoint, 'publish');
    let completed = false;
    const done = new Promise<void>((resolve, reject) =>
      mqttClient.publish('a/b', 'two', { qos: 2 }, (err) => {
        completed = true;
        if (err) reject(err);
        else resolve();
      }),
    );
    const [message] = await received;
    expect(message.qos).toBe(2);
    await roundTrip(endpoint, mqttClient);
    message.received();
    await message.released();
    await roundTrip(endpoint, mqttClient);
    expect(completed).toBe(false);
    message.complete();
    await done;
    expect(completed).toBe(true);
  });

  it('publishes QoS 0, 1 and 2 to the client and resolves on its acknowledgements', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const messages: string[] = [];
    mqttClient.on('message', (topic, payload) => messages.push(`${topic}=${payload.toString()}`));
    const outcomes = await Promise.all([
      endpoint.publish({ topic: 'q/0', payload: 'zero', qos: 0 }),
      endpoint.publish({ topic: 'q/1', payload: 'one', qos: 1 }),
      endpoint.publish({ topic: 'q/2', payload: Buffer.from('two'), qos: 2 }),
    ]);
    expect(outcomes.map((o) => o.reasonCode)).toEqual([0, 0, 0]);
    await until(() => messages.length === 3, mqttClient, ['message']);
    expect(messages.sort()).toEqual(['q/0=zero', 'q/1=one', 'q/2=two']);
    expect(endpoint.inFlight).toBe(0);
  });

  it('publishWithCallback: QoS 0 is answered before it returns, QoS 1 / 2 on PUBACK / PUBCOMP', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const held = holdPubacks(mqttClient);
    const messages: string[] = [];
    mqttClient.on('message', (topic, payload) => messages.push(`${topic}=${payload.toString()}`));
    const answers: string[] = [];
    const answered = new EventEmitter();
    const answer =
      (name: string) =>
      (error: Error | undefined, outcome: PublishOutcome | undefined): void => {
        answers.push(`${name}:${error?.name ?? outcome?.reasonCode}`);
        answered.emit(name);
      };
    expect(endpoint.publishWithCallback({ topic: 'q/0', payload: 'zero', qos: 0 }, {}, answer('q0'))).toBe(
      undefined,
    );
    expect(answers).toEqual(['q0:0']);
    const q1 = next(answered, 'q1');
    const q2 = next(answered, 'q2');
    endpoint.publishWithCallback({ topic: 'q/1', payload: 'one', qos: 1 }, {}, answer('q1'));
    endpoint.publishWithCallback({ topic: 'q/2', payload: Buffer.from('two'), qos: 2 }, {}, answer('q2'));
    // QoS 2 completes; QoS 1 waits for its PUBACK, held back.
    await q2;
    await roundTrip(endpoint, mqttClient);
    expect(answers).toEqual(['q0:0', 'q2:0']);
    expect(endpoint.inFlight).toBe(1);
    held.releaseAll();
    await q1;
    expect(answers).toEqual(['q0:0', 'q2:0', 'q1:0']);
    expect(endpoint.inFlight).toBe(0);
    expect(messages.filter((m) => !m.startsWith('marker/')).sort()).toEqual([
      'q/0=zero',
      'q/1=one',
      'q/2=two',
    ]);
  });

  it('publishWithCallback throws what publish() rejects with at once, and tells the callback of a close', async () => {
    const window = 2;
    const { endpoint, mqttClient } = await connected(
      version,
      version === 5 ? { properties: { receiveMaximum: window } } : {},
      version === 4 ? { outboundWindow: window } : {},
    );
    holdPubacks(mqttClient);
    const answers: (Error | undefined)[] = [];
    const callback = (error: Error | undefined): void => {
      answers.push(error);
    };
    for (let i = 0; i < window; i++)
      endpoint.publishWithCallback({ topic: 'w', payload: Buffer.from(`${i}`), qos: 1 }, {}, callback);
    expect(() => endpoint.publishWithCallback({ topic: 'w', payload: 'x', qos: 1 }, {}, callback)).toThrow(
      expect.objectContaining({ name: 'MqttPublishError', code: 'window-full' }),
    );
    expect(() =>
      endpoint.publishWithCallback({ topic: 'bad/+', payload: 'x', qos: 0 }, {}, callback),
    ).toThrow(expect.objectContaining({ code: 'invalid-message' }));
    await roundTrip(endpoint, mqttClient);
    expect(answers).toEqual([]);
    mqttClient.end(true);
    await next(endpoint, 'close');
    expect(answers.map((e) => e?.name)).toEqual(['MqttConnectionClosedError', 'MqttConnectionClosedError']);
    expect(endpoint.pendingPublishes()).toMatchObject([
      { state: 'publish', message: { topic: 'w', payload: Buffer.from('0'), qos: 1 } },
      { state: 'publish', message: { topic: 'w', payload: Buffer.from('1'), qos: 1 } },
    ]);
    expect(() => endpoint.publishWithCallback({ topic: 'w', payload: 'late', qos: 0 }, {}, callback)).toThrow(
      expect.objectContaining({ name: 'MqttConnectionClosedError' }),
    );
  });

  it('publishWithCallback: a callback that throws on the PUBACK closes the connection', async () => {
    const { endpoint } = await connected(version);
    const closed = next<[CloseReason]>(endpoint, 'close');
    endpoint.publishWithCallback({ topic: 'boom', payload: 'x', qos: 1 }, {}, () => {
      throw new Error('host bug');
    });
    const [reason] = await closed;
    expect(reason).toEqual({ kind: 'server-disconnect', reasonCode: ReasonCode.ImplementationSpecificError });
  });

  it('lets the host act between PUBREC and PUBREL of an outbound QoS 2 message', async () => {
    const { endpoint, mqttClient } = await connected(version);
    let release!: () => void;
    const step = new Promise<void>((resolve) => {
      release = resolve;
    });
    const receivedInfo: number[] = [];
    let messageSeen = false;
    const gotMessage = new Promise<void>((resolve) =>
      mqttClient.on('message', (topic) => {
        if (topic === 'q/2') {
          messageSeen = true;
          resolve();
        }
      }),
    );
    let outcome!: Promise<PublishOutcome>;
    const onReceivedCalled = new Promise<void>((resolve) => {
      outcome = endpoint.publish(
        { topic: 'q/2', payload: 'two', qos: 2 },
        {
          onReceived: (info) => {
            receivedInfo.push(info.messageId);
            resolve();
            return step;
          },
        },
      );
    });
    await onReceivedCalled;
    expect(endpoint.pendingPublishes()).toMatchObject([{ state: 'pubrel', message: { topic: 'q/2' } }]);
    await roundTrip(endpoint, mqttClient);
    // mqtt.js delivers a QoS 2 message on PUBREL: the host has not released it yet.
    expect(messageSeen).toBe(false);
    release();
    await gotMessage;
    expect((await outcome).reasonCode).toBe(0);
    expect(endpoint.inFlight).toBe(0);
    expect(receivedInfo).toHaveLength(1);
  });

  it('closes the connection when the keep-alive expires', async () => {
    const { endpoint, mqttClient } = await connected(version, { keepalive: 1 });
    // Silence the client: stop its keep-alive manager (which would otherwise ping, or give up on us
    // at the same moment as we give up on it).
    (mqttClient as unknown as { _destroyKeepaliveManager(): void })._destroyKeepaliveManager();
    const [reason] = await next(endpoint, 'close');
    expect(reason).toEqual({ kind: 'keep-alive-timeout' });
  });

  it('honours the outbound window (receive maximum / outboundWindow)', async () => {
    const window = 3;
    const { endpoint, mqttClient } = await connected(
      version,
      version === 5 ? { properties: { receiveMaximum: window } } : {},
      version === 4 ? { outboundWindow: window } : {},
    );
    expect(endpoint.window).toBe(window);
    const held = holdPubacks(mqttClient);
    let received = 0;
    let maxOutstanding = 0;
    mqttClient.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish' && packet.qos === 1) {
        received++;
        maxOutstanding = Math.max(maxOutstanding, received - held.released);
      }
    });
    const results: Promise<PublishOutcome>[] = [];
    for (let i = 0; i < window; i++) results.push(endpoint.publish({ topic: 'w', payload: `${i}`, qos: 1 }));
    expect(endpoint.canPublish).toBe(false);
    await expect(endpoint.publish({ topic: 'w', payload: 'x', qos: 1 })).rejects.toBeInstanceOf(
      MqttPublishError,
    );
    await expect(endpoint.publish({ topic: 'w', payload: 'x', qos: 1 })).rejects.toMatchObject({
      code: 'window-full',
    });
    await roundTrip(endpoint, mqttClient);
    expect(held.count).toBe(window);
    // Keep publishing as the window opens, releasing one client PUBACK at a time.
    let sent = window;
    while (sent < 10) {
      const open = endpoint.windowOpen();
      held.releaseOne();
      await open;
      results.push(endpoint.publish({ topic: 'w', payload: `${sent}`, qos: 1 }));
      sent++;
      await roundTrip(endpoint, mqttClient);
    }
    held.releaseAll();
    await Promise.all(results);
    expect(received).toBe(10);
    expect(maxOutstanding).toBe(window);
  });

  it('rejects pending outbound publishes when the connection closes and keeps them for resume', async () => {
    const { endpoint, mqttClient } = await connected(version);
    holdPubacks(mqttClient);
    const result = endpoint.publish({ topic: 'p', payload: 'x', qos: 1 });
    await roundTrip(endpoint, mqttClient);
    mqttClient.end(true);
    await expect(result).rejects.toMatchObject({ name: 'MqttConnectionClosedError' });
    expect(endpoint.closeReason?.kind).toBe('connection-lost');
    expect(endpoint.pendingPublishes()).toMatchObject([
      { state: 'publish', message: { topic: 'p', qos: 1 } },
    ]);
  });

  it('resends pending messages with DUP on session resume', async () => {
    const { endpoint, mqttClient } = await connected(version, { clean: false });
    const received = new Promise<Packet>((resolve) => {
      mqttClient.on('packetreceive', (packet) => {
        if (packet.cmd === 'publish') resolve(packet);
      });
    });
    const outcome = endpoint.resend({
      messageId: 77,
      state: 'publish',
      message: { topic: 'r', payload: 'again', qos: 1 },
    });
    const packet = (await received) as Packet & { dup: boolean; messageId: number };
    expect(packet.dup).toBe(true);
    expect(packet.messageId).toBe(77);
    expect((await outcome).reasonCode).toBe(0);
  });

  it('answers SUBSCRIBE and UNSUBSCRIBE as the host decides', async () => {
    const { endpoint, mqttClient } = await connected(version);
    endpoint.on('subscribe', (request) => {
      expect(request.subscriptions.map((s) => s.topic)).toEqual(['a/+', 'b/#', 'deny/x']);
      request.grant(request.subscriptions.map((s) => (s.topic.startsWith('deny') ? 0x87 : s.qos)));
    });
    endpoint.on('unsubscribe', (request) => request.done());
    const suback = new Promise<{ granted: number[] }>((resolve) =>
      mqttClient.on('packetreceive', (packet) => {
        if (packet.cmd === 'suback') resolve(packet as unknown as { granted: number[] });
      }),
    );
    mqttClient.subscribe({ 'a/+': { qos: 1 }, 'b/#': { qos: 2 }, 'deny/x': { qos: 0 } }, () => {
      // The outcome is read from the SUBACK packet (mqtt.js reports any failure code as an error).
    });
    expect((await suback).granted).toEqual([1, 2, version === 5 ? 0x87 : 0x80]);
    await new Promise<void>((resolve, reject) =>
      mqttClient.unsubscribe(['a/+'], (err) => (err ? reject(err) : resolve())),
    );
  });

  it('records a clean client DISCONNECT', async () => {
    const { endpoint, mqttClient } = await connected(version);
    const closed = next(endpoint, 'close');
    mqttClient.end();
    const [reason] = await closed;
    expect(reason).toMatchObject({ kind: 'client-disconnect', reasonCode: 0 });
  });

  it('a QoS 0 PUBLISH, DISCONNECT and close that arrive while the host is paused survive the close', async () => {
    // What mosquitto_pub does: PUBLISH, DISCONNECT, close at once. The host pauses on the PUBLISH (the
    // gateway does while the topic's link attaches) and resumes only after the socket has gone.
    const { endpoint, mqttClient } = await connected(version);
    const topics: string[] = [];
    endpoint.on('publish', (m) => {
      topics.push(m.topic);
      endpoint.pause();
    });
    const disconnected = next(endpoint, 'disconnect');
    const closed = next<[CloseReason]>(endpoint, 'close');
    // Corked until mqtt.js ends the stream: PUBLISH, DISCONNECT and FIN leave together.
    (mqttClient.stream as Duplex).cork();
    mqttClient.publish('t/x', 'hi', { qos: 0 });
    mqttClient.end();
    const serverSocket = opened.harness!.sockets[0]!;
    if (!serverSocket.destroyed) await next(serverSocket, 'close');
    expect(topics).toEqual(['t/x']);
    expect(endpoint.state).toBe('connected');
    endpoint.resume();
    await disconnected;
    expect((await closed)[0]).toMatchObject({ kind: 'client-disconnect', reasonCode: 0 });
  });

  it("pause() holds the client's publishes back until resume()", async () => {
    const { endpoint, mqttClient } = await connected(version);
    const topics: string[] = [];
    endpoint.on('publish', (m) => topics.push(m.topic));
    endpoint.pause();
    mqttClient.publish('p/1', 'x', { qos: 0 });
    await roundTrip(endpoint, mqttClient);
    await new Promise<void>((resolve) => mqttClient.publish('p/2', 'x', { qos: 0 }, () => resolve()));
    expect(topics).toEqual([]);
    endpoint.resume();
    await until(() => topics.length === 2, endpoint, ['publish']);
    expect(topics).toEqual(['p/1', 'p/2']);
  });
});

describe('many mqtt.js clients at once', () => {
  it('keeps each client on its own endpoint, in order, QoS 1 both ways', async () => {
    opened.harness = await startServer({ outboundWindow: 4 });
    opened.harness.server.on('endpoint', (endpoint) => {
      // One sender per endpoint: echo each message to its client once the window has room, and acknowledge
      // it only when the echo has been written.
      let sender = Promise.resolve();
      endpoint.on('publish', (message) => {
        sender = sender.then(async () => {
          await endpoint.windowOpen();
          void endpoint.publish({ topic: `echo/${message.topic}`, payload: message.payload, qos: 1 });
          message.ack();
        });
      });
      endpoint.accept();
    });
    const COUNT = 20;
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, n) => {
        const c = client(opened.harness!.port, {
          protocolVersion: n % 2 === 0 ? 4 : 5,
          clientId: `multi-${n}`,
        });
        opened.clients.push(c);
        await next(c, 'connect');
        const got: string[] = [];
        const all = new Promise<void>((resolve) =>
          c.on('message', (topic, payload) => {
            got.push(`${topic}:${payload.toString()}`);
            if (got.length === COUNT) resolve();
          }),
        );
        for (let i = 0; i < COUNT; i++) void c.publishAsync(`c${n}`, `${i}`, { qos: 1 });
        await all;
        return got;
      }),
    );
    results.forEach((got, n) => {
      expect(got).toEqual(Array.from({ length: COUNT }, (_, i) => `echo/c${n}:${i}`));
    });
  });
});

describe('MQTT 3.1 (MQIsdp) with mqtt.js', () => {
  it('connects and carries QoS 1 both ways', async () => {
    const { endpoint, mqttClient } = await connected(3, { protocolId: 'MQIsdp' });
    expect(endpoint.protocolVersion).toBe(3);
    expect(endpoint.connect.protocolId).toBe('MQIsdp');
    const received = next<[InboundPublish]>(endpoint, 'publish');
    const sent = mqttClient.publishAsync('v3/up', 'old', { qos: 1 });
    const [message] = await received;
    message.ack();
    await sent;
    const down = next<[string]>(mqttClient, 'message');
    await expect(endpoint.publish({ topic: 'v3/down', payload: 'x', qos: 1 })).resolves.toEqual({
      reasonCode: 0,
    });
    expect((await down)[0]).toBe('v3/down');
  });
});

describe('MQTT 5 specifics with mqtt.js', () => {
  it('assigns a client id to an empty one and returns it in CONNACK', async () => {
    const { endpoint, mqttClient } = await setup(5, { clientId: '' });
    expect(endpoint.clientIdAssigned).toBe(true);
    expect(endpoint.clientId).toMatch(/^dragoman-/);
    const connack = next<[{ properties?: { assignedClientIdentifier?: string } }]>(mqttClient, 'connect');
    endpoint.accept();
    const [packet] = await connack;
    expect(packet.properties?.assignedClientIdentifier).toBe(endpoint.clientId);
  });

  it('resolves inbound topic aliases', async () => {
    const { endpoint, mqttClient } = await connected(5, {}, { topicAliasMaximum: 4 });
    const messages: InboundPublish[] = [];
    endpoint.on('publish', (m) => messages.push(m));
    mqttClient.publish('sensors/t1', 'a', { qos: 0, properties: { topicAlias: 2 } });
    mqttClient.publish('', 'b', { qos: 0, properties: { topicAlias: 2 } });
    await until(() => messages.length === 2, endpoint, ['publish']);
    expect(messages.map((m) => [m.topic, m.payload.toString(), m.properties?.topicAlias])).toEqual([
      ['sensors/t1', 'a', undefined],
      ['sensors/t1', 'b', undefined],
    ]);
  });

  it('passes response topic, correlation data and user properties through both ways', async () => {
    const { endpoint, mqttClient } = await connected(5);
    const received = next<[InboundPublish]>(endpoint, 'publish');
    mqttClient.publish('req', 'q', {
      qos: 1,
      properties: {
        responseTopic: 'resp/c1',
        correlationData: Buffer.from('corr'),
        userProperties: { k: 'v' },
        contentType: 'text/plain',
      },
    });
    const [message] = await received;
    expect(message.properties).toMatchObject({ responseTopic: 'resp/c1', contentType: 'text/plain' });
    expect(message.properties?.correlationData?.toString()).toBe('corr');
    expect({ ...message.properties?.userProperties }).toEqual({ k: 'v' });
    message.ack();
    const back = next<[string, Buffer, { properties?: Record<string, unknown> }]>(mqttClient, 'message');
    await endpoint.publish({
      topic: 'resp/c1',
      payload: 'a',
      qos: 1,
      properties: { correlationData: Buffer.from('corr'), userProperties: { k: ['1', '2'] } },
    });
    const [, , packet] = await back;
    expect(String(packet.properties?.correlationData)).toBe('corr');
    expect({ ...(packet.properties?.userProperties as object) }).toEqual({ k: ['1', '2'] });
  });

  it('sends DISCONNECT with the reason code when the host disconnects', async () => {
    const { endpoint, mqttClient } = await connected(5);
    const disconnect = next<[{ reasonCode?: number }]>(mqttClient, 'disconnect');
    endpoint.disconnect(ReasonCode.SessionTakenOver, { reasonString: 'another connection' });
    const [packet] = await disconnect;
    expect(packet.reasonCode).toBe(0x8e);
    expect(endpoint.closeReason).toEqual({ kind: 'server-disconnect', reasonCode: 0x8e });
  });

  it('receives the client DISCONNECT reason code (disconnect with will)', async () => {
    const { endpoint, mqttClient } = await connected(5);
    const closed = next(endpoint, 'close');
    mqttClient.end(false, { reasonCode: 0x04 });
    const [reason] = await closed;
    expect(reason).toMatchObject({ kind: 'client-disconnect', reasonCode: 0x04 });
  });

  it('uses the server keep-alive and announces it', async () => {
    const { endpoint, mqttClient } = await setup(5, { keepalive: 100 }, { serverKeepAlive: 20 });
    expect(endpoint.keepAliveSeconds).toBe(20);
    const connack = next<[{ properties?: { serverKeepAlive?: number } }]>(mqttClient, 'connect');
    endpoint.accept();
    const [packet] = await connack;
    expect(packet.properties?.serverKeepAlive).toBe(20);
  });

  it('never sends the client a packet above its maximum packet size', async () => {
    const { endpoint } = await connected(5, { properties: { maximumPacketSize: 200 } });
    await expect(
      endpoint.publish({ topic: 'big', payload: Buffer.alloc(500), qos: 1 }),
    ).rejects.toMatchObject({ code: 'packet-too-large' });
    expect(endpoint.inFlight).toBe(0);
    await expect(endpoint.publish({ topic: 'small', payload: Buffer.alloc(10), qos: 1 })).resolves.toEqual({
      reasonCode: 0,
    });
  });
});

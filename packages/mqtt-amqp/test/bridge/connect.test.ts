/**
 * The bridge's CONNECT sequence and disconnects, against a recording AMQP peer (rhea used directly) and
 * mqtt.js clients speaking MQTT 3.1.1 and 5.
 */
import { connect as netConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayOnRecordingPeer, next, type RunningGateway, runGateway } from './support/harness';
import {
  type AttachEvent,
  type DetachEvent,
  type MessageEvent,
  publishAddress,
  RecordingPeer,
} from './support/recording-peer';

const isAttach = (name: string) => (e: { kind: string; name?: string }) =>
  e.kind === 'attach' && e.name === name;

describe.each([4, 5] as const)('bridge CONNECT (MQTT protocol version %i)', (protocolVersion) => {
  const bridge = gatewayOnRecordingPeer();

  it('sends the will, then AMQP_LIST, answers CONNACK, then attaches the publish receiver', async () => {
    const clientId = `ordered-${protocolVersion}`;
    bridge.peer.answerList = false;
    const connecting = bridge.gw.connect({
      clientId,
      protocolVersion,
      clean: false,
      will: { topic: 'status/gone', payload: Buffer.from('bye'), qos: 1, retain: true },
    });
    const list = await bridge.peer.waitFor(
      (e): e is MessageEvent => e.kind === 'message' && e.subject === 'list',
    );
    // The bridge is waiting for AMQP_SUBSCRIPTIONS: the publish address is not attached yet.
    expect(
      bridge.peer.events.some((e) => e.kind === 'attach' && e.address === publishAddress(clientId)),
    ).toBe(false);
    bridge.peer.sessions.set(clientId, new Map([['a/b', 1]]));
    const sender = await bridge.peer.until(() => bridge.peer.senderFor(`$mqtt.to.${clientId}.control`));
    sender.send({ subject: 'subscriptions', body: { 'a/b': 1 } });
    const client = await connecting;
    const publishAttach = await bridge.peer.waitFor(
      (e): e is AttachEvent => e.kind === 'attach' && e.address === publishAddress(clientId),
    );

    const willAttach = bridge.peer.events.find(isAttach(clientId)) as AttachEvent;
    expect(willAttach).toMatchObject({
      role: 'sender',
      address: '$mqtt.willservice',
      sndSettleMode: 0,
      rcvSettleMode: 0,
    });
    const will = bridge.peer.ofKind('message').find((e) => e.subject === 'will') as MessageEvent;
    expect(will.link).toBe(clientId);
    expect(will.message.to).toBe('status/gone');
    expect(will.message.message_annotations).toMatchObject({
      'x-opt-retain-message': true,
      'x-opt-mqtt-qos': 1,
    });
    expect(will.message.durable).toBe(true);
    expect(list.address).toBe('$mqtt.subscriptionservice');
    expect(list.message.correlation_id).toBe(publishAddress(clientId));
    expect(list.message.reply_to).toBe(`$mqtt.to.${clientId}.control`);
    expect(willAttach.seq).toBeLessThan(will.seq);
    expect(will.seq).toBeLessThan(list.seq);
    expect(list.seq).toBeLessThan(publishAttach.seq);
    expect(publishAttach).toMatchObject({ role: 'receiver', rcvSettleMode: 0 });
    client.end(true);
  });

  it('reports session present from the recovered subscriptions, and never after a clean session', async () => {
    const clientId = `present-${protocolVersion}`;
    bridge.peer.sessions.set(clientId, new Map([['x/#', 1]]));
    const resumed = await bridge.gw.connectAck({ clientId, protocolVersion, clean: false });
    expect(resumed.connack.sessionPresent).toBe(true);
    resumed.client.end(true);

    const empty = await bridge.gw.connectAck({ clientId: `${clientId}-new`, protocolVersion, clean: false });
    expect(empty.connack.sessionPresent).toBe(false);
    empty.client.end(true);

    const fresh = await bridge.gw.connectAck({ clientId, protocolVersion, clean: true });
    expect(fresh.connack.sessionPresent).toBe(false);
    const close = await bridge.peer.waitFor(
      (e): e is MessageEvent => e.kind === 'message' && e.subject === 'close',
    );
    expect(close.message.correlation_id).toBe(publishAddress(clientId));
    expect(bridge.peer.ofKind('message').filter((e) => e.subject === 'list')).toHaveLength(2);
    fresh.client.end(true);
  });

  it('clean DISCONNECT detaches the will link without an error', async () => {
    const clientId = `clean-${protocolVersion}`;
    const client = await bridge.gw.connect({
      clientId,
      protocolVersion,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    await client.endAsync();
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.name === clientId,
    );
    expect(detach.condition).toBeUndefined();
  });

  it('with sendWillClear, a clean DISCONNECT sends AMQP_WILL_CLEAR before the error-free detach', async () => {
    await bridge.gw.close();
    bridge.gw = await runGateway({ amqp: { url: bridge.peer.url }, sendWillClear: true });
    const clientId = `clear-${protocolVersion}`;
    const client = await bridge.gw.connect({
      clientId,
      protocolVersion,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    await client.endAsync();
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.name === clientId,
    );
    expect(detach.condition).toBeUndefined();
    const clear = bridge.peer
      .ofKind('message')
      .find((e) => e.subject === 'will-clear' && e.link === clientId);
    expect(clear).toBeDefined();
    expect(clear!.seq).toBeLessThan(detach.seq);
  });

  it('a lost socket detaches the will link with amqp:link:detach-forced', async () => {
    const clientId = `abrupt-${protocolVersion}`;
    const client = await bridge.gw.connect({
      clientId,
      protocolVersion,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false },
    });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    client.stream.destroy();
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.name === clientId,
    );
    expect(detach.condition).toBe('amqp:link:detach-forced');
  });

  it('keep-alive expiry detaches the will link with amqp:link:detach-forced', async () => {
    const clientId = `silent-${protocolVersion}`;
    // A raw client that connects with a 1 s keep-alive and then says nothing.
    const socket = netConnect(bridge.gw.port, '127.0.0.1');
    await next(socket, 'connect');
    socket.write(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion,
          clean: true,
          clientId,
          keepalive: 1,
          will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
        } as mqttPacket.IConnectPacket,
        { protocolVersion },
      ),
    );
    socket.on('data', () => {});
    socket.on('error', () => {});
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.name === clientId,
    );
    expect(detach.condition).toBe('amqp:link:detach-forced');
    socket.destroy();
  });

  it('a refused will gives CONNACK server unavailable', async () => {
    bridge.peer.dispose = (e) => (e.subject === 'will' ? 'reject' : 'accept');
    const { code } = await bridge.gw.connectExpectingFailure({
      clientId: `refused-${protocolVersion}`,
      protocolVersion,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    expect(code).toBe(protocolVersion === 5 ? 0x88 : 3);
  });

  it('takes over a client id: the first connection ends and its links go before the second attaches', async () => {
    const clientId = `twin-${protocolVersion}`;
    const will = { topic: 'twin/will', payload: Buffer.from('x'), qos: 0 as const, retain: false };
    const first = await bridge.gw.connect({ clientId, protocolVersion, will });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    const firstGone = new Promise<number | undefined>((resolve) => {
      first.on('disconnect', (packet) => resolve(packet.reasonCode));
      first.on('close', () => resolve(undefined));
    });
    const second = await bridge.gw.connect({ clientId, protocolVersion, will });
    const reason = await firstGone;
    if (protocolVersion === 5) expect(reason).toBe(0x8e);
    const detaches = bridge.peer.ofKind('detach').filter((e) => e.name === clientId);
    const attaches = bridge.peer.ofKind('attach').filter((e) => e.name === clientId);
    expect(attaches).toHaveLength(2);
    expect(detaches).toHaveLength(1);
    expect(detaches[0]?.condition).toBe('amqp:link:detach-forced');
    expect(detaches[0]!.seq).toBeLessThan(attaches[1]!.seq);
    expect(second.connected).toBe(true);
    expect(bridge.gw.gateway.stats().clients).toBe(1);
  });
});

describe('bridge CONNECT failures', () => {
  let peer: RecordingPeer | undefined;
  let gw: RunningGateway | undefined;

  afterEach(async () => {
    await gw?.close();
    await peer?.close();
    gw = undefined;
    peer = undefined;
  });

  it.each([4, 5] as const)(
    'no AMQP_SUBSCRIPTIONS in time gives server unavailable (v%i)',
    async (protocolVersion) => {
      peer = await RecordingPeer.start();
      peer.answerList = false;
      gw = await runGateway({ amqp: { url: peer.url }, connectTimeoutMs: 300 });
      const { code } = await gw.connectExpectingFailure({
        clientId: 'slow-list',
        protocolVersion,
        clean: false,
      });
      expect(code).toBe(protocolVersion === 5 ? 0x88 : 3);
    },
  );

  it.each([4, 5] as const)(
    'an unreachable AMQP network gives server unavailable (v%i)',
    async (protocolVersion) => {
      const gone = await RecordingPeer.start();
      const url = gone.url;
      await gone.close();
      gw = await runGateway({ amqp: { url, connectTimeoutMs: 2_000 } });
      const { code } = await gw.connectExpectingFailure({ clientId: 'nobody-home', protocolVersion });
      expect(code).toBe(protocolVersion === 5 ? 0x88 : 3);
    },
  );

  it.each([4, 5] as const)(
    'an AMQP authentication failure gives not authorized (v%i)',
    async (protocolVersion) => {
      peer = await RecordingPeer.start({
        authenticate: (user, password) => user === 'dev' && password === 'secret',
      });
      gw = await runGateway({ amqp: { url: peer.url }, connectionMode: 'per-client', credentials: 'client' });
      const { code } = await gw.connectExpectingFailure({
        clientId: 'intruder',
        protocolVersion,
        username: 'dev',
        password: 'wrong',
      });
      expect(code).toBe(protocolVersion === 5 ? 0x87 : 5);
      const ok = await gw.connect({ clientId: 'dev', protocolVersion, username: 'dev', password: 'secret' });
      expect(ok.connected).toBe(true);
      ok.end(true);
    },
  );

  it('per-client mode makes the keep-alive the AMQP idle time-out of the client connection', async () => {
    peer = await RecordingPeer.start();
    gw = await runGateway({ amqp: { url: peer.url }, connectionMode: 'per-client' });
    const client = await gw.connect({ clientId: 'ka', keepalive: 42 });
    const open = peer.ofKind('connection-open');
    expect(open).toHaveLength(1);
    expect(open[0]?.idleTimeoutMs).toBe(42_000);
    client.end(true);
  });
});

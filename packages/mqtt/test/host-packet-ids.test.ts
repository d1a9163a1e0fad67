/**
 * Host-chosen packet identifiers and DUP on outbound PUBLISH (PublishOptions.messageId / dup), the
 * 'packet-id-in-use' refusal, and the QoS 2 PUBREL re-sent on the next connection of a persistent session —
 * all against mqtt.js 5 at protocol versions 4 and 5.
 */
import type { MqttClient, Packet } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { type MqttEndpoint, MqttPublishError } from '../src/index';
import {
  client,
  closedAfterEach,
  next,
  nextEndpoint,
  serverWithClient,
  startServer,
  TIMEOUT_MS,
  until,
} from './support/harness';

const opened = closedAfterEach();

type PublishSeen = Packet & { messageId?: number; dup: boolean; qos: number; topic: string };

/** An accepted endpoint and its mqtt.js client; `packets` collects the PUBLISH packets the client read. */
async function connected(
  version: 4 | 5,
  clientOptions: Parameters<typeof client>[1] = {},
): Promise<{ endpoint: MqttEndpoint; mqttClient: MqttClient; publishes: PublishSeen[] }> {
  const { endpoint, mqttClient } = await serverWithClient(opened, {
    protocolVersion: version,
    clientId: 'ids',
    ...clientOptions,
  });
  // Before the CONNACK: every PUBLISH comes after it.
  const publishes: PublishSeen[] = [];
  mqttClient.on('packetreceive', (packet) => {
    if (packet.cmd === 'publish') publishes.push(packet as PublishSeen);
  });
  const connack = next(mqttClient, 'connect');
  endpoint.accept();
  await connack;
  return { endpoint, mqttClient, publishes };
}

/** Makes mqtt.js hold back every packet of `cmd` it would write until `release` (then it lets them all go). */
function holdOutgoing(mqttClient: MqttClient, cmd: string): { release(): void } {
  type Send = (packet: Packet, cb?: () => void, ...rest: unknown[]) => void;
  const internals = mqttClient as unknown as { _sendPacket: Send };
  const original = internals._sendPacket.bind(mqttClient);
  const queue: Array<() => void> = [];
  let released = false;
  internals._sendPacket = (packet, cb, ...rest) => {
    if (released || packet.cmd !== cmd) {
      original(packet, cb, ...rest);
      return;
    }
    queue.push(() => original(packet, undefined, ...rest));
    cb?.();
  };
  return {
    release() {
      released = true;
      for (const send of queue.splice(0)) send();
    },
  };
}

describe.each([4, 5] as const)('host-chosen packet identifiers, mqtt.js protocol version %i', (version) => {
  it('sends QoS 1 and QoS 2 with the identifier and DUP flag the host chose', async () => {
    const { endpoint, mqttClient, publishes } = await connected(version);
    const messages: string[] = [];
    mqttClient.on('message', (_topic, payload) => messages.push(payload.toString()));
    const first = endpoint.publish({ topic: 'a', payload: 'one', qos: 1 }, { messageId: 4242 });
    const second = endpoint.publish({ topic: 'a', payload: 'two', qos: 2 }, { messageId: 65535, dup: true });
    await expect(first).resolves.toMatchObject({ reasonCode: 0 });
    await expect(second).resolves.toMatchObject({ reasonCode: 0 });
    expect(publishes.map((p) => [p.messageId, p.qos, p.dup])).toEqual([
      [4242, 1, false],
      [65535, 2, true],
    ]);
    expect(messages).toEqual(['one', 'two']);
  });

  it('refuses an identifier in flight with packet-id-in-use, and one outside 1..65535 as invalid', async () => {
    const { endpoint, mqttClient, publishes } = await connected(version);
    const pubacks = holdOutgoing(mqttClient, 'puback');
    const first = endpoint.publish({ topic: 'a', payload: 'x', qos: 1 }, { messageId: 7 });
    const clash = endpoint.publish({ topic: 'a', payload: 'y', qos: 2 }, { messageId: 7 });
    await expect(clash).rejects.toBeInstanceOf(MqttPublishError);
    await expect(clash).rejects.toMatchObject({ code: 'packet-id-in-use' });
    const resent = endpoint.resend({
      messageId: 7,
      state: 'pubrel',
      message: { topic: 'a', payload: '', qos: 2 },
    });
    await expect(resent).rejects.toMatchObject({ code: 'packet-id-in-use' });
    for (const bad of [0, 65536, 1.5, -3]) {
      await expect(
        endpoint.publish({ topic: 'a', payload: 'z', qos: 1 }, { messageId: bad }),
      ).rejects.toMatchObject({ code: 'invalid-message' });
    }
    // The endpoint's own identifiers step around the one the host holds.
    const own = endpoint.publish({ topic: 'a', payload: 'w', qos: 1 });
    await until(() => publishes.length === 2, mqttClient, ['packetreceive']);
    expect(publishes.map((p) => p.messageId)).toEqual([7, expect.any(Number)]);
    expect(publishes[1]?.messageId).not.toBe(7);
    pubacks.release();
    await expect(first).resolves.toMatchObject({ reasonCode: 0 });
    await expect(own).resolves.toMatchObject({ reasonCode: 0 });
    // Completed: the identifier is free again.
    await expect(
      endpoint.publish({ topic: 'a', payload: 'v', qos: 1 }, { messageId: 7 }),
    ).resolves.toMatchObject({
      reasonCode: 0,
    });
    expect(endpoint.pendingPublishes()).toEqual([]);
  });

  it('QoS 0 ignores messageId and dup', async () => {
    const { endpoint, mqttClient, publishes } = await connected(version);
    await endpoint.publish({ topic: 'a', payload: 'x', qos: 0 }, { messageId: 0, dup: true });
    await until(() => publishes.length === 1, mqttClient, ['packetreceive']);
    expect(publishes[0]).toMatchObject({ qos: 0, dup: false });
  });

  it(
    'a QoS 2 message whose PUBREL the connection lost reaches the application once the next connection re-sends it',
    async () => {
      opened.harness = await startServer();
      const firstEndpoint = nextEndpoint(opened.harness.server);
      const mqttClient = client(opened.harness.port, {
        protocolVersion: version,
        clientId: 'resume',
        clean: false,
        reconnectPeriod: 50,
        ...(version === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
      });
      opened.clients.push(mqttClient);
      const messages: string[] = [];
      mqttClient.on('message', (_topic, payload) => messages.push(payload.toString()));
      const endpoint = await firstEndpoint;
      endpoint.accept();
      await next(mqttClient, 'connect');
      // PUBREC arrives; the host step never finishes, so no PUBREL goes out before the connection drops.
      let pubrec!: () => void;
      const gotPubrec = new Promise<void>((resolve) => {
        pubrec = resolve;
      });
      const outcome = endpoint.publish(
        { topic: 'q/2', payload: 'exactly once', qos: 2 },
        {
          messageId: 99,
          onReceived: () => {
            pubrec();
            return new Promise<void>(() => {});
          },
        },
      );
      await gotPubrec;
      expect(messages).toEqual([]); // mqtt.js holds a QoS 2 message until PUBREL
      const secondEndpoint = nextEndpoint(opened.harness.server);
      for (const socket of opened.harness.sockets) socket.destroy();
      await expect(outcome).rejects.toMatchObject({ name: 'MqttConnectionClosedError' });
      expect(endpoint.pendingPublishes()).toMatchObject([{ messageId: 99, state: 'pubrel' }]);

      const resumed = await secondEndpoint;
      const reconnected = next(mqttClient, 'connect');
      resumed.accept({ sessionPresent: true });
      await reconnected;
      // The host kept only the identifier: the message is a placeholder for a PUBREL.
      const completed = resumed.resend({
        messageId: 99,
        state: 'pubrel',
        message: { topic: '', payload: '', qos: 2 },
      });
      await expect(completed).resolves.toMatchObject({ reasonCode: expect.any(Number) });
      await until(() => messages.length === 1, mqttClient, ['message']);
      expect(messages).toEqual(['exactly once']);
      // A later message with the same identifier is a new one.
      await resumed.publish({ topic: 'q/2', payload: 'next', qos: 2 }, { messageId: 99 });
      await until(() => messages.length === 2, mqttClient, ['message']);
      expect(messages).toEqual(['exactly once', 'next']);
    },
    TIMEOUT_MS * 3,
  );
});

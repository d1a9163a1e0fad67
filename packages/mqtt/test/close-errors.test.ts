/**
 * What an endpoint's pending work is told when the connection closes: the MqttConnectionClosedError is made only
 * when something is pending (an idle client's close skips it), so these pin down that everything pending still
 * gets it, with the close reason.
 */
import type { MqttClient, Packet } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { type CloseReason, MqttConnectionClosedError, type MqttEndpoint } from '../src/index';
import { client, closedAfterEach, next, nextEndpoint, startServer } from './support/harness';

const opened = closedAfterEach();

/** An accepted endpoint and its mqtt.js client, which never acknowledges a PUBLISH it receives. */
async function connectedWithoutAcks(
  version: 4 | 5,
): Promise<{ endpoint: MqttEndpoint; mqttClient: MqttClient }> {
  opened.harness = await startServer();
  const endpointPromise = nextEndpoint(opened.harness.server);
  const mqttClient = client(opened.harness.port, {
    protocolVersion: version,
    clientId: 'closing',
  });
  opened.clients.push(mqttClient);
  // Drop the PUBACKs mqtt.js writes: every QoS 1 message we publish stays unacknowledged.
  type Send = (packet: Packet, ...rest: unknown[]) => void;
  const internals = mqttClient as unknown as { _sendPacket: Send };
  const send = internals._sendPacket.bind(mqttClient);
  internals._sendPacket = (packet, ...rest) => {
    if (packet.cmd !== 'puback') send(packet, ...rest);
  };
  const endpoint = await endpointPromise;
  const connack = next(mqttClient, 'connect');
  endpoint.accept();
  await connack;
  return { endpoint, mqttClient };
}

function expectClosedError(error: unknown, reason: CloseReason | undefined): void {
  expect(error).toBeInstanceOf(MqttConnectionClosedError);
  expect(error).toMatchObject({
    name: 'MqttConnectionClosedError',
    message: `MQTT connection closed (${reason?.kind})`,
  });
  expect((error as MqttConnectionClosedError).reason).toBe(reason);
}

describe.each([4, 5] as const)('closing errors (MQTT version %i)', (version) => {
  it('an abrupt close fails unacknowledged publishes and aborts the signal with the close reason', async () => {
    const { endpoint, mqttClient } = await connectedWithoutAcks(version);
    const signal = endpoint.signal;
    const received = next(mqttClient, 'message');
    const first = endpoint.publish({ topic: 'a', payload: '1', qos: 1 }).catch((e: unknown) => e);
    const second = endpoint.publish({ topic: 'a', payload: '2', qos: 1 }).catch((e: unknown) => e);
    await received;
    const closed = next<[CloseReason]>(endpoint, 'close');
    mqttClient.end(true);
    const [reason] = await closed;
    expect(reason.kind).toBe('connection-lost');
    expectClosedError(await first, reason);
    expectClosedError(await second, reason);
    expect(signal.aborted).toBe(true);
    expectClosedError(signal.reason, reason);
    expect(endpoint.pendingPublishes()).toHaveLength(2);
  });

  it('an idle close still aborts a signal taken before or after it', async () => {
    const { endpoint, mqttClient } = await connectedWithoutAcks(version);
    const before = endpoint.signal;
    const closed = next<[CloseReason]>(endpoint, 'close');
    mqttClient.end(true);
    const [reason] = await closed;
    expectClosedError(before.reason, reason);
    expectClosedError(endpoint.signal.reason, reason);
    expect(endpoint.pendingPublishes()).toEqual([]);
    await expect(endpoint.publish({ topic: 'a', payload: 'late', qos: 1 })).rejects.toBeInstanceOf(
      MqttConnectionClosedError,
    );
  });
});

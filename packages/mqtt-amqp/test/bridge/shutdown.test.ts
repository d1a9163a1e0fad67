/**
 * Graceful shutdown: `BridgeGateway.close({ drainMs })` answers the PUBLISHes it has taken before it
 * disconnects the clients, against a recording AMQP peer (rhea) that holds dispositions and mqtt.js clients.
 */
import type { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { gatewayOnRecordingPeer, track, until } from './support/harness';
import { type MessageEvent, publishAddress } from './support/recording-peer';

const SERVER_SHUTTING_DOWN = 0x8b;

/** The packets the client receives, in order (`disconnect:<reason code>` for a DISCONNECT). */
function recordPackets(client: MqttClient): string[] {
  const received: string[] = [];
  client.on('packetreceive', (packet) => {
    received.push(packet.cmd === 'disconnect' ? `disconnect:${packet.reasonCode ?? 0}` : packet.cmd);
  });
  return received;
}

/** A PINGREQ round trip: the server has read everything the client sent before it. */
async function pingRoundTrip(client: MqttClient): Promise<void> {
  let ponged = false;
  const onPacket = (packet: { cmd: string }): void => {
    if (packet.cmd === 'pingresp') ponged = true;
  };
  client.prependListener('packetreceive', onPacket);
  (client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'pingreq' });
  try {
    await until(emitterOf(client), 'packetreceive', () => ponged);
  } finally {
    client.off('packetreceive', onPacket);
  }
}

/** mqtt.js types its client's events narrowly; `until` takes a plain emitter. */
function emitterOf(client: MqttClient): EventEmitter {
  return client as unknown as EventEmitter;
}

const isMessageTo = (address: string) => (e: { kind: string; address?: string | undefined }) =>
  e.kind === 'message' && e.address === address;

describe('bridge gateway graceful shutdown (MQTT 5)', () => {
  const bridge = gatewayOnRecordingPeer();

  async function connected(clientId: string): Promise<{ client: MqttClient; received: string[] }> {
    const client = await bridge.gw.connect({ clientId, protocolVersion: 5 });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    return { client, received: recordPackets(client) };
  }

  it('close({ drainMs }) writes the PUBACK of a pending QoS 1 PUBLISH before DISCONNECT 0x8B', async () => {
    const { client, received } = await connected('drain-ok');
    bridge.peer.dispose = (e) => (e.address === 'drain/held' ? 'hold' : 'accept');
    client.publishAsync('drain/held', 'in flight', { qos: 1 }).catch(() => {});
    const held = await bridge.peer.waitFor((e): e is MessageEvent => isMessageTo('drain/held')(e));

    const closing = track(bridge.gw.gateway.close({ drainMs: 5_000 }));
    // Sent once the drain began: parked by the paused endpoint, never taken (the client resends it later).
    client.publishAsync('drain/late', 'after shutdown began', { qos: 1 }).catch(() => {});
    await pingRoundTrip(client); // the late PUBLISH has been read; the client is still connected
    expect(received).not.toContain(`disconnect:${SERVER_SHUTTING_DOWN}`);
    expect(closing.settled).toBe(false);

    held.delivery.accept();
    await expect(closing.promise).resolves.toBe(true);
    await until(emitterOf(client), 'packetreceive', () => received.some((p) => p.startsWith('disconnect')));
    expect(received.filter((p) => p === 'puback' || p.startsWith('disconnect'))).toEqual([
      'puback',
      `disconnect:${SERVER_SHUTTING_DOWN}`,
    ]);
    expect(bridge.peer.ofKind('message').some(isMessageTo('drain/late'))).toBe(false);
  });

  it('at the drain deadline the client gets DISCONNECT 0x8B without PUBACK and close() resolves', async () => {
    const { client, received } = await connected('drain-deadline');
    bridge.peer.dispose = (e) => (e.address === 'drain/never' ? 'hold' : 'accept');
    client.publishAsync('drain/never', 'never answered', { qos: 1 }).catch(() => {});
    await bridge.peer.waitFor(isMessageTo('drain/never'));

    await expect(bridge.gw.gateway.close({ drainMs: 300 })).resolves.toBe(false);
    await until(emitterOf(client), 'packetreceive', () => received.some((p) => p.startsWith('disconnect')));
    expect(received).toContain(`disconnect:${SERVER_SHUTTING_DOWN}`);
    expect(received).not.toContain('puback');
  });
});

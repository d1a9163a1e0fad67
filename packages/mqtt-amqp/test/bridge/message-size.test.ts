/**
 * The largest AMQP message the bridge takes from the network for a client (`maxMessageSize`), against a
 * recording AMQP peer (rhea) and a raw MQTT client: by default a message over 2 MiB detaches the client's
 * publish link with amqp:link:message-size-exceeded; a host admitting larger MQTT packets raises it and the
 * message reaches the client whole.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, runGateway } from './support/harness';
import { RawMqttClient } from './support/raw-client';
import { amqpPublish, type DetachEvent, publishAddress, RecordingPeer } from './support/recording-peer';

const THREE_MIB = 3 * 1024 * 1024;

describe('bridge maxMessageSize', () => {
  let peer: RecordingPeer | undefined;
  let gw: RunningGateway | undefined;
  const clients: RawMqttClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await gw?.close();
    await peer?.close();
    gw = undefined;
    peer = undefined;
  });

  async function connected(port: number, clientId: string): Promise<RawMqttClient> {
    const { client } = await RawMqttClient.connect(port, {
      clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
    });
    clients.push(client);
    await peer?.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    return client;
  }

  it('refuses a message over the default 2 MiB by detaching the publish link', async () => {
    peer = await RecordingPeer.start();
    gw = await runGateway({ amqp: { url: peer.url } });
    await connected(gw.port, 'big-default');
    await peer.sendToClient('big-default', amqpPublish('big/x', 'x'.repeat(THREE_MIB), 0));
    const detach = (await peer.waitFor(
      (e) => e.kind === 'detach' && e.address === publishAddress('big-default'),
    )) as DetachEvent;
    expect(detach.condition).toBe('amqp:link:message-size-exceeded');
  });

  it('delivers it whole when raised, as the gateway does with --max-packet-size', async () => {
    peer = await RecordingPeer.start();
    gw = await runGateway({ amqp: { url: peer.url }, maxMessageSize: 8 * 1024 * 1024 });
    const client = await connected(gw.port, 'big-raised');
    await peer.sendToClient('big-raised', amqpPublish('big/y', 'y'.repeat(THREE_MIB), 0));
    const publish = (await client.next((p) => p.cmd === 'publish')) as IPublishPacket;
    expect(publish.topic).toBe('big/y');
    expect(Buffer.byteLength(publish.payload)).toBe(THREE_MIB);
  });

  it('refuses a size that is not a whole number of bytes', async () => {
    await expect(runGateway({ amqp: { url: 'amqp://127.0.0.1:1' }, maxMessageSize: -1 })).rejects.toThrow(
      /maxMessageSize/,
    );
  });
});

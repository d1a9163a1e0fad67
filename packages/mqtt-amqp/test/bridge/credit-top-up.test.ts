/**
 * Credit towards a client's publish link, against a recording AMQP peer (rhea) acting as the Subscription
 * service and a raw MQTT client: slots the client freed in amounts below the bridge's credit batch (a quarter of
 * its window) are granted once the peer has used its last credit, without waiting for another PUBACK — a client
 * may be waiting for those very messages before it acknowledges anything more.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningGateway, runGateway } from './support/harness';
import { RawMqttClient } from './support/raw-client';
import { amqpPublish, type OutcomeEvent, publishAddress, RecordingPeer } from './support/recording-peer';

/** The client's in-flight window: its credit batch is 2, so one freed slot alone is not granted at once. */
const WINDOW = 8;

describe.each([4, 5] as const)('credit top-up (MQTT protocol version %i)', (protocolVersion) => {
  let peer: RecordingPeer;
  let gw: RunningGateway;
  let client: RawMqttClient | undefined;

  beforeEach(async () => {
    peer = await RecordingPeer.start();
    gw = await runGateway({ amqp: { url: peer.url } }, { outboundWindow: WINDOW });
  });

  afterEach(async () => {
    client?.destroy();
    await gw.close();
    await peer.close();
  });

  const publishOf = (payload: string) => (p: { cmd: string; payload?: unknown }) =>
    p.cmd === 'publish' && String(p.payload) === payload;

  it('a slot freed while the peer held credit is granted when that credit is used', async () => {
    const clientId = `top-up-${protocolVersion}`;
    ({ client } = await RawMqttClient.connect(gw.port, {
      clientId,
      protocolVersion,
      clean: true,
      keepalive: 0,
    }));
    await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    const send = (payload: string) =>
      peer.sendToClient(clientId, amqpPublish('t/1', payload, 1), AbortSignal.timeout(5_000));

    const deliveries = [];
    for (let i = 0; i < WINDOW; i++) deliveries.push(await send(`m${i}`));
    const window = [];
    for (let i = 0; i < WINDOW; i++) window.push((await client.next(publishOf(`m${i}`))) as IPublishPacket);

    // Two PUBACKs: the first frees a slot while the peer has no credit (granted at once), the second while it
    // holds that one (less than a batch: not granted yet).
    for (const [i, publish] of window.slice(0, 2).entries()) {
      client.send({ cmd: 'puback', messageId: publish.messageId });
      const delivered = deliveries[i];
      await peer.waitFor(
        (e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === delivered?.id,
        AbortSignal.timeout(5_000),
      );
    }
    await send('uses-the-credit');
    await client.next(publishOf('uses-the-credit'));
    // Seven held of eight, and no PUBACK comes: the free slot has to be granted anyway.
    await send('in-the-free-slot');
    expect(((await client.next(publishOf('in-the-free-slot'))) as IPublishPacket).qos).toBe(1);
  });
});

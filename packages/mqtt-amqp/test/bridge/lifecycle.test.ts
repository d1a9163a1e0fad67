/** Pool sizing, AMQP connection loss and gateway shutdown, against a recording rhea peer. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { next, type RunningGateway, runGateway } from './support/harness';
import { type DetachEvent, publishAddress, RecordingPeer } from './support/recording-peer';

describe('bridge gateway lifecycle', () => {
  let peer: RecordingPeer;
  let gw: RunningGateway;

  beforeEach(async () => {
    peer = await RecordingPeer.start();
  });

  afterEach(async () => {
    await gw.close();
    await peer.close();
  });

  it('spreads clients over at most poolSize shared AMQP connections', async () => {
    gw = await runGateway({ amqp: { url: peer.url }, poolSize: 2 });
    const clients = [];
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      clients.push(await gw.connect({ clientId: id, protocolVersion: 5 }));
    }
    expect(peer.ofKind('connection-open')).toHaveLength(2);
    expect(gw.gateway.stats()).toMatchObject({ clients: 4, amqpConnections: 2 });
    for (const client of clients) client.end(true);
  });

  it('per-client mode opens a connection per client and closes it with the client', async () => {
    gw = await runGateway({ amqp: { url: peer.url }, connectionMode: 'per-client' });
    const a = await gw.connect({ clientId: 'own-a', protocolVersion: 4 });
    const b = await gw.connect({ clientId: 'own-b', protocolVersion: 4 });
    expect(peer.ofKind('connection-open')).toHaveLength(2);
    await a.endAsync();
    await peer.waitFor((e) => e.kind === 'connection-close');
    expect(peer.connectionCount).toBe(1);
    b.end(true);
  });

  it.each([4, 5] as const)(
    'ends the clients of a lost AMQP connection, then serves new ones (v%i)',
    async (v) => {
      gw = await runGateway({ amqp: { url: peer.url }, poolSize: 1 });
      const client = await gw.connect({
        clientId: `lost-${v}`,
        protocolVersion: v,
        will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(`lost-${v}`));
      const reason = new Promise<number | undefined>((resolve) => {
        client.on('disconnect', (packet) => resolve(packet.reasonCode));
        client.on('close', () => resolve(undefined));
      });
      peer.dropConnections({ condition: 'amqp:connection:forced', description: 'test' });
      const code = await reason;
      if (v === 5) expect(code).toBe(0x80);
      await until(() => gw.gateway.stats().clients === 0);
      const again = await gw.connect({ clientId: `lost-${v}`, protocolVersion: v });
      expect(again.connected).toBe(true);
      expect(peer.ofKind('connection-open')).toHaveLength(2);
      again.end(true);
    },
  );

  it('clients on one AMQP connection share its subscription-service link', async () => {
    gw = await runGateway({ amqp: { url: peer.url }, poolSize: 1 });
    const a = await gw.connect({ clientId: 'share-a', protocolVersion: 4 });
    const b = await gw.connect({ clientId: 'share-b', protocolVersion: 5, clean: false });
    await a.subscribeAsync('t/a', { qos: 1 });
    await b.subscribeAsync('t/b', { qos: 1 });
    const ssAttaches = peer
      .ofKind('attach')
      .filter((e) => e.role === 'sender' && e.address === '$mqtt.subscriptionservice');
    expect(ssAttaches).toHaveLength(1);
    // Each request names its client: the service keeps the sessions apart.
    expect(peer.sessions.get('share-a')?.get('t/a')).toBe(1);
    expect(peer.sessions.get('share-b')?.get('t/b')).toBe(1);
    // A client that goes leaves the shared link attached for the other.
    await a.endAsync();
    await b.subscribeAsync('t/c', { qos: 0 });
    expect(peer.sessions.get('share-b')?.get('t/c')).toBe(0);
    expect(peer.ofKind('detach').filter((e) => e.name.endsWith('/subscriptions'))).toEqual([]);
    b.end(true);
  });

  it('a subscription-service link the peer detaches is attached again for the next request', async () => {
    gw = await runGateway({ amqp: { url: peer.url } });
    const client = await gw.connect({ clientId: 'orphan', protocolVersion: 5 });
    await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress('orphan'));
    const shared = peer
      .ofKind('attach')
      .find((e) => e.role === 'sender' && e.address === '$mqtt.subscriptionservice');
    peer.receiverNamed(shared?.name ?? '')?.close({ condition: 'amqp:internal-error', description: 'gone' });
    await peer.waitFor((e) => e.kind === 'detach' && e.name === shared?.name);
    const granted = await client.subscribeAsync('after/detach', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    expect(peer.sessions.get('orphan')?.get('after/detach')).toBe(1);
    const attaches = peer
      .ofKind('attach')
      .filter((e) => e.role === 'sender' && e.address === '$mqtt.subscriptionservice');
    expect(attaches).toHaveLength(2);
    expect(client.connected).toBe(true);
    client.end(true);
  });

  it('a client gone while its links attach leaves no half-attached link behind', async () => {
    gw = await runGateway({ amqp: { url: peer.url }, poolSize: 1 });
    for (let i = 0; i < 5; i++) {
      const client = await gw.connect({ clientId: 'hasty', protocolVersion: 5, clean: i % 2 === 0 });
      client.stream.destroy(); // right after CONNACK: the publish receiver is still attaching
    }
    const last = await gw.connect({ clientId: 'hasty', protocolVersion: 5 });
    await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress('hasty') && e.seq > 0);
    expect(peer.ofKind('detach').filter((e) => e.condition === 'amqp:not-found')).toEqual([]);
    expect(peer.ofKind('connection-open')).toHaveLength(1);
    expect(peer.ofKind('connection-close')).toHaveLength(0);
    last.end(true);
  });

  it('close() disconnects clients (MQTT 5: 0x8B) and detaches their will links with detach-forced', async () => {
    gw = await runGateway({ amqp: { url: peer.url } });
    const client = await gw.connect({
      clientId: 'shutdown',
      protocolVersion: 5,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress('shutdown'));
    const disconnect = next<[{ reasonCode?: number }]>(client, 'disconnect');
    await gw.gateway.close();
    const [packet] = await disconnect;
    expect(packet.reasonCode).toBe(0x8b);
    const detach = await peer.waitFor((e): e is DetachEvent => e.kind === 'detach' && e.name === 'shutdown');
    expect(detach.condition).toBe('amqp:link:detach-forced');
    expect(() => gw.gateway.handle({} as never)).toThrow();
  });
});

/** Waits until `check` holds, re-checking on each turn of the event loop (bounded). */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

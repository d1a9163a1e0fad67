/**
 * Many clients lost at once (a network blip): their teardowns go in batches over turns of the event loop
 * (TeardownPacer), and every one still ends — its will published, its bridge released.
 */
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TEARDOWNS_PER_TURN } from '../../src/bridge/teardown-pacer';
import { pollUntil } from '../support/poll';
import { receivedCount, STACK_TRANSPORTS, type Stack, startStack } from './harness';

/** More than two batches of teardowns. */
const CLIENTS = DEFAULT_TEARDOWNS_PER_TURN * 2 + 20;

describe.each(STACK_TRANSPORTS)('a mass disconnect, bridge to backend over %s', (transport) => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('publishes the will of every client whose socket is lost, and releases every bridge', async () => {
    stack = await startStack({ transport });
    const watcher = await stack.connect({ clientId: 'watcher', protocolVersion: 4 });
    const wills: string[] = [];
    watcher.on('message', (topic) => wills.push(topic));
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    const clients: MqttClient[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const topic = `wills/c${i}`;
      clients.push(
        await stack.connect({
          clientId: `c${i}`,
          protocolVersion: 4,
          will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false },
        }),
      );
    }
    expect(stack.gateway.stats().clients).toBe(CLIENTS + 1);
    for (const client of clients) client.stream.destroy();
    await receivedCount(watcher, wills, CLIENTS, 30_000);
    expect(new Set(wills)).toEqual(new Set(clients.map((_, i) => `wills/c${i}`)));
    const gateway = stack.gateway;
    await pollUntil(() => gateway.stats().clients === 1, 'every lost client released');
    watcher.end(true);
  });
});

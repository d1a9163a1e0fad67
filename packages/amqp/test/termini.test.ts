import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/index';
import { type Loopback, loopback } from './fixtures';
import { rhea } from './helpers';

let env: Loopback | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('link and terminus options', () => {
  it('reach the peer: name, durability, expiry, timeout, capabilities, distribution mode, filters, properties', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const selector = rhea.filter.selector("colour = 'red'");
    const opening = env.client.openReceiver({
      name: 'sub-1',
      source: {
        address: 'topic/a',
        durable: 'unsettled-state',
        expiryPolicy: 'never',
        timeout: 60,
        capabilities: ['topic'],
        distributionMode: 'copy',
        filter: selector,
      },
      target: { address: 'me' },
      guarantee: 'exactly-once',
      properties: { 'x-client': 'test' },
    });
    const link = await incoming;
    expect(link.name).toBe('sub-1');
    expect(link.role).toBe('sender');
    expect(link.info.source).toMatchObject({
      address: 'topic/a',
      durable: 'unsettled-state',
      expiryPolicy: 'never',
      timeout: 60,
      dynamic: false,
      capabilities: ['topic'],
      distributionMode: 'copy',
    });
    expect(Object.keys(link.info.source?.filter ?? {})).toEqual(Object.keys(selector));
    expect(link.info.target?.address).toBe('me');
    expect(link.info.settleModes).toEqual({ sender: 'unsettled', receiver: 'second' });
    expect(link.info.properties).toEqual({ 'x-client': 'test' });
    link.acceptSender();
    const receiver = await opening;
    // Our attach echoed the termini: the client reads them back.
    expect(receiver.info.source).toMatchObject({
      address: 'topic/a',
      durable: 'unsettled-state',
      expiryPolicy: 'never',
    });
  });

  it('a dynamic source gets its address from the accepting side (deferred answer)', async () => {
    env = await loopback();
    env.server.prependListener('incomingLink', (link) => link.defer());
    const incoming = env.nextIncomingLink();
    const opening = env.client.openReceiver({ source: { dynamic: true } });
    const link = await incoming;
    expect(link.info.source?.dynamic).toBe(true);
    expect(link.address).toBeUndefined();
    link.acceptSender({ address: 'temp-queue-42' });
    const receiver = await opening;
    expect(receiver.address).toBe('temp-queue-42');
  });

  it('bad option values are typed errors', async () => {
    env = await loopback();
    await expect(env.client.openSender({ target: 'q', guarantee: 'twice' as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(
      env.client.openSender({ target: { address: 'q', durable: 'forever' as never } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(env.client.openSender({ target: 'q', maxQueued: -1 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(env.client.openReceiver({ source: 'q', creditWindow: 1.5 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

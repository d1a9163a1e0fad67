/**
 * Session expiry in the Subscription service and its effect on wills (Will service), on memory stores. Expiry
 * timers run on vitest's fake timers and clock: deadlines are reached by moving them, never by sleeping.
 */
import type { AmqpMessage } from '@dragoman/amqp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createAddresses,
  createMemoryStores,
  decodeControl,
  encodeClose,
  encodeList,
  encodeSessionExpiry,
  MappingError,
  type MqttMessage,
  type Stores,
  SubscriptionService,
  WillService,
  withSessionExpiry,
} from '../../src/index';
import { RecordingOutlet } from './support/recording-outlet';

const NEVER = 0xffff_ffff;

/** A clock tests move by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number): void {
      now += ms;
    },
  };
}

async function startService(stores: Stores, clock: { now: () => number }) {
  const ended: string[] = [];
  const ss = await SubscriptionService.start({
    sessions: stores.sessions,
    retained: stores.retained,
    encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    now: clock.now,
    onSessionEnded: (clientId) => ended.push(clientId),
  });
  return { ss, ended };
}

describe('session expiry: the mapping', () => {
  const addresses = createAddresses();

  it('carries the interval as x-opt-mqtt-session-expiry on AMQP_LIST, AMQP_CLOSE and AMQP_SESSION_EXPIRY', () => {
    const list = decodeControl(encodeList('c', addresses, 60), addresses);
    expect(list).toMatchObject({ subject: 'list', list: { clientId: 'c', expiryInterval: 60 } });
    const close = decodeControl(encodeClose('c', addresses, NEVER), addresses);
    expect(close).toMatchObject({ subject: 'close', close: { clientId: 'c', expiryInterval: NEVER } });
    const update = decodeControl(encodeSessionExpiry('c', addresses, 0), addresses);
    expect(update).toEqual({
      subject: 'session-expiry',
      sessionExpiry: { clientId: 'c', expiryInterval: 0 },
    });
  });

  it('leaves the spec messages unchanged without an interval (absent = the 3.1.1 meanings)', () => {
    expect(encodeList('c', addresses).messageAnnotations).toBeUndefined();
    expect(decodeControl(encodeList('c', addresses), addresses)).toMatchObject({
      list: { expiryInterval: undefined },
    });
    expect(decodeControl(encodeClose('c', addresses), addresses)).toMatchObject({
      close: { expiryInterval: undefined },
    });
  });

  it('refuses an interval that is not a uint, on either side', () => {
    expect(() => withSessionExpiry(encodeList('c', addresses), -1)).toThrow(MappingError);
    const bad = {
      ...encodeList('c', addresses),
      messageAnnotations: { 'x-opt-mqtt-session-expiry': 'soon' },
    };
    expect(() => decodeControl(bad, addresses)).toThrow(MappingError);
    const missing = { properties: { ...encodeSessionExpiry('c', addresses, 5).properties } };
    expect(() => decodeControl(missing, addresses)).toThrow(MappingError);
  });
});

describe('session expiry: the Subscription service', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends an offline session at its deadline, not before; a returning client cancels it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const clock = { now: () => Date.now() };
    const stores = createMemoryStores();
    const { ss, ended } = await startService(stores, clock);
    await ss.list('gone', 1);
    await ss.list('back', 1);
    for (const id of ['gone', 'back']) {
      ss.ready(id);
      ss.attach(id, new RecordingOutlet());
      await ss.disconnect(id);
    }
    expect(ss.stats()).toMatchObject({ sessions: 2, connected: 0 });
    // 'back' returns before its deadline: its timer goes, its session is resumed.
    const resumed = await ss.list('back', 60);
    expect(resumed.size).toBe(0);
    expect(await stores.sessions.get('back')).toBeDefined();

    await vi.advanceTimersByTimeAsync(999);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await ss.idle();
    expect(ended).toEqual(['gone']);
    expect(ss.stats().sessions).toBe(1);
    expect(await stores.sessions.get('gone')).toBeUndefined();
    ss.stop();
  });

  it('drops a session with interval 0 when its client goes, and says so', async () => {
    const clock = manualClock();
    const stores = createMemoryStores({ now: clock.now });
    const { ss, ended } = await startService(stores, clock);
    await ss.list('zero', 0);
    ss.ready('zero');
    await ss.disconnect('zero');
    expect(ended).toEqual(['zero']);
    expect(ss.stats().sessions).toBe(0);
    expect(await stores.sessions.get('zero')).toBeUndefined();
  });

  it('takes the interval in force when the client goes (AMQP_SESSION_EXPIRY)', async () => {
    const clock = manualClock();
    const stores = createMemoryStores({ now: clock.now });
    const { ss, ended } = await startService(stores, clock);
    await ss.list('c', NEVER);
    expect(ss.setExpiry('c', 0)).toBe(true);
    expect(ss.expiryOf('c')).toBe(0);
    await ss.disconnect('c');
    expect(ended).toEqual(['c']);
    expect(ss.setExpiry('nobody', 5)).toBe(false);
  });

  it('keeps a session that never expires (AMQP_LIST without an interval), with no timer', async () => {
    const clock = manualClock();
    const stores = createMemoryStores({ now: clock.now });
    const { ss } = await startService(stores, clock);
    await ss.list('forever');
    await ss.disconnect('forever');
    clock.advance(365 * 24 * 3_600_000);
    expect(await stores.sessions.get('forever')).toMatchObject({ expiryInterval: NEVER });
    expect(ss.stats().sessions).toBe(1);
  });

  it('at start: removes sessions that expired meanwhile (reported) and re-arms the others from the store', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const clock = { now: () => Date.now() };
    const stores = createMemoryStores();
    const first = await startService(stores, clock);
    await first.ss.list('lapsed', 5);
    await first.ss.list('pending', 20);
    await first.ss.disconnect('lapsed');
    await first.ss.disconnect('pending');
    first.ss.stop();

    vi.setSystemTime(Date.now() + 10_000); // "down" for 10 s
    const second = await startService(stores, clock);
    expect(second.ended).toEqual(['lapsed']);
    expect(second.ss.stats().sessions).toBe(1);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(second.ended).toEqual(['lapsed']);
    await vi.advanceTimersByTimeAsync(1);
    expect(second.ended).toEqual(['lapsed', 'pending']);
    expect(await stores.sessions.list()).toEqual([]);
  });
});

describe('session expiry: the Will service', () => {
  const will: MqttMessage = { topic: 'w', payload: Buffer.from('gone'), qos: 1, retain: false };

  async function willService() {
    const stores = createMemoryStores();
    const published: string[] = [];
    let onPublished: (() => void) | undefined;
    const service = await WillService.start({
      store: stores.wills,
      publish: async (_message, clientId) => {
        published.push(clientId);
      },
      onPublished: () => onPublished?.(),
    });
    const nextPublication = () =>
      new Promise<void>((resolve) => {
        onPublished = resolve;
      });
    return { service, published, nextPublication };
  }

  it('publishes a will waiting out its delay when the session ends', async () => {
    const { service, published, nextPublication } = await willService();
    const link = {};
    service.linkAttached('c', link);
    await service.setWill('c', link, will, 3_600);
    service.linkDetached('c', link, true);
    expect(service.stats()).toMatchObject({ pending: 1, published: 0 });
    const publication = nextPublication();
    service.sessionExpired('c');
    await publication;
    expect(published).toEqual(['c']);
    service.close();
  });

  it('publishes at once on an abrupt detach that comes after the session ended', async () => {
    const { service, published, nextPublication } = await willService();
    const link = {};
    service.linkAttached('c', link);
    await service.setWill('c', link, will, 3_600);
    service.sessionExpired('c');
    const publication = nextPublication();
    service.linkDetached('c', link, true);
    await publication;
    expect(published).toEqual(['c']);
    expect(service.stats().pending).toBe(0);
    service.close();
  });

  it('still drops the will on a clean detach after the session ended', async () => {
    const { service, published } = await willService();
    const link = {};
    service.linkAttached('c', link);
    await service.setWill('c', link, will, 3_600);
    service.sessionExpired('c');
    service.linkDetached('c', link, false);
    expect(service.stats()).toMatchObject({ wills: 0, pending: 0 });
    expect(published).toEqual([]);
    service.close();
  });
});

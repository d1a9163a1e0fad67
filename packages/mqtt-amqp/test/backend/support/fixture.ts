/** One backend per test, with the rhea peers connected to it, all closed after the test. */
import { afterEach, expect } from 'vitest';
import { type Backend, type BackendOptions, createBackend } from '../../../src/index';
import { type Inbox, Peer, publishMessage, send, text } from './peer';

export interface Fixture {
  readonly backend: Backend;
  peer(): Promise<Peer>;
}

const backends: Backend[] = [];
const peers: Peer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  for (const b of backends.splice(0)) await b.close();
});

export async function startBackend(options: BackendOptions = {}): Promise<Fixture> {
  const backend = await createBackend(options);
  backends.push(backend);
  return {
    backend,
    async peer() {
      const p = await Peer.connect(backend.port);
      peers.push(p);
      return p;
    },
  };
}

/** Stops a backend before the end of the test (its peers are dropped). */
export async function stopBackend(fixture: Fixture): Promise<void> {
  await fixture.backend.close();
}

/**
 * Publishes `marker` on `topic` and returns the payloads `inbox` got up to and including it (accepting them).
 * The backend routes one link's messages in order, so whatever was routed to `inbox` before the marker shows.
 */
export async function upToMarker(
  fixture: Fixture,
  inbox: Inbox,
  topic: string,
  marker = 'marker',
): Promise<string[]> {
  const publisher = await (await fixture.peer()).sender(topic);
  expect((await send(publisher, publishMessage(topic, marker, 1))).state).toBe('accepted');
  const seen: string[] = [];
  for (;;) {
    const [item] = await inbox.take(1);
    if (item === undefined) return seen;
    item.delivery.accept();
    seen.push(text(item.message));
    if (text(item.message) === marker) return seen;
  }
}

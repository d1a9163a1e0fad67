// Our connections' processing rounds (internal/lean-processing.ts) against rhea as the peer: outcomes given in
// one tick reach the peer each as given, accepted ones next to each other in id order sharing a disposition
// range whatever order they were given in, and a session the peer ends is dropped while a new one on the same
// connection carries on.
import { describe, expect, it } from 'vitest';
import { binaryMessage, connect, type Delivery } from '../src/index';
import { bodyText, closedAfterEach, rhea, rheaListen, until } from './helpers';

interface RheaContext {
  message?: { body?: unknown };
  delivery?: { id: number; accept(): void; remote_state?: unknown };
  sender?: { send(message: unknown): unknown; sendable(): boolean };
  session?: { close(error?: unknown): void };
  connection?: RheaConnectionInternals;
}

interface DispositionFrame {
  performative: { first: number; last?: number };
}

/** rhea's connection, where each frame read is handed to `on_<performative>`. */
interface RheaConnectionInternals {
  on_disposition(frame: DispositionFrame): void;
}

type OutcomeName = 'accepted' | 'rejected' | 'released';

/**
 * A rhea peer that sends `bodies` on any receiver link we attach, and records each delivery's outcome by id
 * and the disposition frames it reads (their `[first, last]`).
 */
async function outcomeCounter(id: string, bodies: readonly string[]) {
  const container = rhea.create_container({ id });
  container.on('disconnected', () => {});
  const ranges: Array<[number, number]> = [];
  container.on('connection_open', (context: RheaContext) => {
    const connection = context.connection as RheaConnectionInternals;
    const read = connection.on_disposition;
    connection.on_disposition = function (this: RheaConnectionInternals, frame: DispositionFrame) {
      ranges.push([frame.performative.first, frame.performative.last ?? frame.performative.first]);
      read.call(this, frame);
    };
  });
  let sent = 0;
  container.on('sendable', (context: RheaContext) => {
    while (sent < bodies.length && context.sender?.sendable()) context.sender.send({ body: bodies[sent++] });
  });
  const outcomes = new Map<number, OutcomeName>();
  for (const name of ['accepted', 'rejected', 'released'] as const) {
    container.on(name, (context: RheaContext) => outcomes.set(context.delivery?.id ?? -1, name));
  }
  return { ...(await rheaListen(container)), ranges, outcomes };
}

/** Each delivery's outcome as given to the peer, by body: `r` rejected, `rel` released, any other accepted. */
function settleByBody(delivery: Delivery): void {
  const body = delivery.message.body;
  const text = body?.type === 'value' ? body.value : undefined;
  if (text === 'r') delivery.reject({ condition: 'amqp:invalid-field', description: 'no' });
  else if (text === 'rel') delivery.release();
  else delivery.accept();
}

describe('processing rounds against a rhea peer', () => {
  const track = closedAfterEach();

  /** Our client to `peer`, and the deliveries of every one of its bodies, received and not yet settled. */
  async function receiveAll(
    peer: Awaited<ReturnType<typeof outcomeCounter>>,
    count: number,
  ): Promise<Delivery[]> {
    track(peer.server);
    const client = track(await connect({ host: '127.0.0.1', port: peer.port, reconnect: false }));
    const receiver = await client.openReceiver({ source: 'q', creditWindow: 0 });
    receiver.addCredit(count);
    const deliveries: Delivery[] = [];
    while (deliveries.length < count) {
      deliveries.push((await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery);
    }
    return deliveries;
  }

  it('outcomes given in one tick reach the peer each as given', async () => {
    const bodies = ['a1', 'a2', 'r', 'a3', 'rel', 'a4', 'a5'];
    const peer = await outcomeCounter('outcome-counter', bodies);
    const deliveries = await receiveAll(peer, bodies.length);
    // All in one tick: rhea's round writes them together, as ranges of like outcomes.
    for (const delivery of deliveries) settleByBody(delivery);
    await until(() => peer.outcomes.size === bodies.length);
    expect([...peer.outcomes.entries()].sort((x, y) => x[0] - y[0]).map(([, name]) => name)).toEqual([
      'accepted',
      'accepted',
      'rejected',
      'accepted',
      'released',
      'accepted',
      'accepted',
    ]);
  });

  it('outcomes given out of id order in one tick reach the peer each as given, like ones in shared ranges', async () => {
    const bodies = ['a0', 'a1', 'r', 'a3', 'rel', 'a5', 'a6', 'a7'];
    const peer = await outcomeCounter('out-of-order-outcomes', bodies);
    const deliveries = await receiveAll(peer, bodies.length);
    // All in one tick, last first (as a router settles its links' deliveries in turn).
    for (const delivery of [...deliveries].reverse()) settleByBody(delivery);
    await until(() => peer.outcomes.size === bodies.length);
    const ids = [...peer.outcomes.keys()].sort((x, y) => x - y);
    expect(ids.map((id) => peer.outcomes.get(id))).toEqual([
      'accepted',
      'accepted',
      'rejected',
      'accepted',
      'released',
      'accepted',
      'accepted',
      'accepted',
    ]);
    const base = ids[0] as number;
    // Given last first, rhea wrote one frame per delivery (a rejected or released one goes out on its own).
    const ranges = peer.ranges.map(([first, last]) => [first - base, last - base]);
    expect(ranges.sort((x, y) => (x[0] as number) - (y[0] as number))).toEqual([
      [0, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 7],
    ]);
  });

  it('a session the peer ends is dropped, and a new one on the same connection carries on', async () => {
    const container = rhea.create_container({ id: 'session-ender-once' });
    container.on('disconnected', () => {});
    container.on('message', (context: RheaContext) => {
      if (bodyText(context.message?.body) === 'end the session') {
        context.session?.close({ condition: 'amqp:session:window-violation', description: 'once' });
      } else {
        context.delivery?.accept();
      }
    });
    const listening = await rheaListen(container);
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    const first = await client.openSender('q');
    await expect(first.send(binaryMessage('end the session'))).rejects.toMatchObject({
      name: 'LinkClosedError',
    });
    const second = await client.openSender('q');
    expect(await second.send(binaryMessage('still here'))).toEqual({ state: 'accepted' });
    expect(await second.send(binaryMessage('and here'))).toEqual({ state: 'accepted' });
  });
});

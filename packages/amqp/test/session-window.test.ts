// A sender's credit also counts the session's outgoing window (deliveries not yet settled on both sides), so a
// peer that grants plenty of link credit but settles nothing closes the window first: against a rhea listener
// (a peer we did not write). Between two of our ends any delivery settled frees its slot, not only the oldest
// (internal/session-window.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { binaryMessage, connect, type Delivery, payloadOf, type Sender } from '../src/index';
import { type Loopback, loopback } from './fixtures';
import { closedAfterEach, rhea, rheaListen, until } from './helpers';

/** rhea's default session buffer: deliveries of a session not yet settled on both sides. */
const RHEA_SESSION_WINDOW = 2048;
const LINK_CREDIT = RHEA_SESSION_WINDOW + 500;

/** Sends `m0`, `m1`, … while the sender says a send would be written now; returns how many. */
function sendWhileCredit(sender: Sender): number {
  let written = 0;
  while (sender.credit > 0) {
    expect(sender.trySend(binaryMessage(`m${written}`))).toBe(true);
    written += 1;
  }
  return written;
}

interface HeldDelivery {
  accept(): void;
}

describe("sender credit and the session's outgoing window", () => {
  const track = closedAfterEach();

  it('is 0 while the window is full, whatever the link credit; a send then waits, none is lost', async () => {
    const container = rhea.create_container({ id: 'rhea-unsettling-peer' });
    const held: HeldDelivery[] = [];
    container.on('receiver_open', (context) => {
      context.receiver?.set_credit_window(0);
      context.receiver?.add_credit(LINK_CREDIT);
    });
    container.on('message', (context) => held.push(context.delivery as unknown as HeldDelivery));
    const listening = await rheaListen(container);
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    const sender = await client.openSender({ target: 'never-settles' });
    await until(() => sender.credit > 0);

    expect(sendWhileCredit(sender)).toBe(RHEA_SESSION_WINDOW);
    // Link credit is left, but a send now would only queue: credit says so, and trySend refuses.
    expect(sender.trySend(binaryMessage('refused'))).toBe(false);
    const waiting = sender.send(binaryMessage('waits'));
    expect(sender.queued).toBe(1);

    await until(() => held.length === RHEA_SESSION_WINDOW);
    // rhea frees its own ring (the peer's incoming side) in order only: the oldest settled frees a slot.
    held[0]?.accept();
    await until(() => held.length === RHEA_SESSION_WINDOW + 1);
    expect(sender.queued).toBe(0);
    held[RHEA_SESSION_WINDOW]?.accept();
    await expect(waiting).resolves.toEqual({ state: 'accepted' });
  });

  let ends: Loopback | undefined;
  afterEach(async () => {
    await ends?.close();
    ends = undefined;
  });

  it('between our ends, one delivery left unsettled does not close the window: any settled one frees its slot', async () => {
    ends = await loopback();
    const incoming = ends.nextIncomingLink();
    const sender = await ends.client.openSender({ target: 'one-stuck' });
    const receiver = (await incoming).acceptReceiver({ creditWindow: 0 });
    const taken: Delivery[] = [];
    receiver.on('delivery', (delivery) => taken.push(delivery));
    receiver.addCredit(LINK_CREDIT);
    await until(() => sender.credit > 0);
    expect(sendWhileCredit(sender)).toBe(RHEA_SESSION_WINDOW);
    const waiting = sender.send(binaryMessage('waits'));
    await until(() => taken.length === RHEA_SESSION_WINDOW);
    // The oldest stays unsettled for good; every other one is accepted.
    for (const delivery of taken.slice(1)) delivery.accept();
    await until(() => taken.length === RHEA_SESSION_WINDOW + 1);
    expect(payloadOf((taken.at(-1) as Delivery).message).toString()).toBe('waits');
    taken.at(-1)?.accept();
    await expect(waiting).resolves.toEqual({ state: 'accepted' });
    expect(sender.credit).toBeGreaterThan(0);
  });
});

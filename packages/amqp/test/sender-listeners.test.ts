// Senders share one set of rhea link listeners, which find their Sender from the event's link: several senders on
// one connection to rhea used directly must each get their own outcomes and detach, and no other's.
import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { binaryMessage, type CloseInfo, connect, type Sender } from '../src/index';
import { bodyText, closedAfterEach, rhea, rheaListen, waitFor } from './helpers';

interface RheaContext {
  message?: { body?: unknown };
  delivery?: {
    accept(): void;
    reject(error?: { condition: string; description?: string }): void;
    release(): void;
  };
  receiver?: { close(error?: unknown): void };
}

describe('senders sharing rhea link listeners', () => {
  const track = closedAfterEach();

  /** A rhea listener settling each message by its text body: 'reject', 'release', 'detach' (its link), else accept. */
  async function rheaPeer(): Promise<number> {
    const container = rhea.create_container({ id: 'rhea-sender-listeners' });
    container.on('message', (context: RheaContext) => {
      const text = bodyText(context.message?.body);
      if (text === 'detach') {
        context.receiver?.close({ condition: 'amqp:resource-deleted', description: 'gone' });
        return;
      }
      if (text.startsWith('reject')) context.delivery?.reject({ condition: 'amqp:invalid-field' });
      else if (text.startsWith('release')) context.delivery?.release();
      else context.delivery?.accept();
    });
    const listening = await rheaListen(container);
    track(listening.server);
    return listening.port;
  }

  it("each sender gets its own outcomes and its own link's detach", async () => {
    const port = await rheaPeer();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const senders: Sender[] = [];
    for (const target of ['a', 'b', 'c']) senders.push(await client.openSender({ target }));
    const [a, b, c] = senders as [Sender, Sender, Sender];

    // Interleaved on one connection: every send completes and leaves nothing unsettled on any sender. (All
    // accepted: rhea as receiver writes one tick's dispositions as ranges and may merge different outcomes.)
    const pending = [a, b, c, a, b, c].map((s) => s.send(binaryMessage('accept')));
    expect(senders.map((s) => s.unsettled)).toEqual([2, 2, 2]);
    expect((await Promise.all(pending)).map((r) => r.state)).toEqual(Array(6).fill('accepted'));
    // One at a time, each sender its own outcome.
    expect((await b.send(binaryMessage('reject b'))).state).toBe('rejected');
    expect((await c.send(binaryMessage('release c'))).state).toBe('released');
    expect((await a.send(binaryMessage('reject a'))).state).toBe('rejected');
    for (const s of senders) expect(s.unsettled).toBe(0);

    // The peer detaches b's link only: b closes with the peer's error, a and c go on.
    const closed = waitFor<[CloseInfo]>(b, 'close');
    const lost = b.send(binaryMessage('detach'));
    const [info] = await closed;
    expect(info.remote).toBe(true);
    expect(info.error).toMatchObject({ condition: 'amqp:resource-deleted' });
    await expect(lost).rejects.toThrow();
    expect(b.isClosed).toBe(true);
    expect(a.isOpen && c.isOpen).toBe(true);
    expect(await a.send(binaryMessage('accept a'))).toEqual({ state: 'accepted' });
    expect((await c.send(binaryMessage('reject c'))).state).toBe('rejected');

    // A sender opened after another's link went away is found by its own link too.
    const d = await client.openSender({ target: 'd' });
    expect(await d.send(binaryMessage('accept d'))).toEqual({ state: 'accepted' });
    await a.close();
    expect(await d.send(binaryMessage('accept d'))).toEqual({ state: 'accepted' });
    expect(c.isOpen).toBe(true);
  });

  it("a Sender's and a Receiver's listener tables inherit nothing: any event name is the application's", async () => {
    const port = await rheaPeer();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const sender = await client.openSender({ target: 'names' });
    const receiver = await client.openReceiver({ source: 'names' });
    // Seen as plain emitters: their typed events do not name these.
    for (const emitter of [sender, receiver] as unknown as EventEmitter[]) {
      expect(emitter.listenerCount('constructor')).toBe(0);
      expect(emitter.listenerCount('toString')).toBe(0);
      const heard: string[] = [];
      emitter.on('toString', () => heard.push('toString'));
      emitter.on('hasOwnProperty', () => heard.push('hasOwnProperty'));
      expect(emitter.emit('toString')).toBe(true);
      expect(emitter.emit('hasOwnProperty')).toBe(true);
      expect(emitter.emit('valueOf')).toBe(false);
      expect(heard).toEqual(['toString', 'hasOwnProperty']);
      expect(emitter.eventNames()).toEqual(expect.arrayContaining(['toString', 'hasOwnProperty']));
    }
    expect(await sender.send(binaryMessage('accept'))).toEqual({ state: 'accepted' });
  });
});

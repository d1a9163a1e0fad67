// What a sender's pending work is failed with when the link closes: the error is made only when something is
// pending (an idle link's close skips it), so these pin down that everything pending still gets it, in full.
import { describe, expect, it } from 'vitest';
import { binaryMessage, connect, LinkClosedError, LinkError } from '../src/index';
import { closedAfterEach, rhea, rheaListen, waitFor } from './helpers';

interface RheaReceiverContext {
  receiver?: {
    add_credit(credit: number): void;
    close(error?: { condition: string; description?: string }): void;
  };
}

describe('closing errors of a sender with work pending, against a rhea peer', () => {
  const track = closedAfterEach();

  /**
   * A rhea listener that grants credit only when told (`add_credit`) and settles nothing; `links` gets its
   * receiving ends, `container` emits 'message' as each transfer arrives.
   */
  async function stingyPeer(
    links: RheaReceiverContext['receiver'][],
  ): Promise<{ port: number; container: ReturnType<typeof rhea.create_container> }> {
    const container = rhea.create_container({ id: 'stingy-peer' });
    container.on('receiver_open', (context: RheaReceiverContext) => {
      links.push(context.receiver);
    });
    const listening = await rheaListen(container, { receiver_options: { credit_window: 0 } });
    track(listening.server);
    return { port: listening.port, container };
  }

  it('a peer detach with an error fails the in-flight send, the queued send and a whenSendable waiter alike', async () => {
    const links: RheaReceiverContext['receiver'][] = [];
    const { port, container } = await stingyPeer(links);
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', name: 'pending-sender' });
    const arrived = waitFor(container, 'message');
    const results = [sender.send(binaryMessage('in flight')), sender.send(binaryMessage('queued'))].map((p) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    links[0]?.add_credit(1);
    await arrived;
    // the first is in flight (unsettled), the second waits for credit
    const waiter = sender.whenSendable().then(
      () => undefined,
      (e: unknown) => e,
    );
    const closed = waitFor(sender, 'close');
    links[0]?.close({ condition: 'amqp:link:detach-forced', description: 'taken over' });
    await closed;
    const [inFlight, queued] = await Promise.all(results);
    for (const error of [inFlight, queued, await waiter]) {
      expect(error).toBeInstanceOf(LinkClosedError);
      expect(error).toMatchObject({
        name: 'LinkClosedError',
        linkName: 'pending-sender',
        message: expect.stringContaining("link 'pending-sender' detached: "),
      });
      expect((error as Error).cause).toBeInstanceOf(LinkError);
      expect((error as Error).cause).toMatchObject({
        condition: 'amqp:link:detach-forced',
        description: 'taken over',
      });
    }
  });

  it('our own close with an error fails a pending send with a LinkClosedError whose cause is that error', async () => {
    const links: RheaReceiverContext['receiver'][] = [];
    const { port } = await stingyPeer(links);
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', name: 'closing-sender' });
    const first = sender.send(binaryMessage('waiting for credit')).catch((e: unknown) => e);
    const second = sender.send(binaryMessage('waiting too')).catch((e: unknown) => e);
    await sender.close({ condition: 'amqp:internal-error', description: 'shutting down' });
    for (const error of [await first, await second]) {
      expect(error).toBeInstanceOf(LinkClosedError);
      expect(error).toMatchObject({ linkName: 'closing-sender', message: "link 'closing-sender' is closed" });
      expect((error as Error).cause).toMatchObject({ condition: 'amqp:internal-error' });
    }
    await expect(sender.send(binaryMessage('after'))).rejects.toMatchObject({
      name: 'LinkClosedError',
      linkName: 'closing-sender',
    });
  });

  it('a sender with only a whenSendable waiter (no credit, nothing sent) fails it when the peer detaches', async () => {
    const links: RheaReceiverContext['receiver'][] = [];
    const { port } = await stingyPeer(links);
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', name: 'idle-sender' });
    const waiter = sender.whenSendable().then(
      () => undefined,
      (e: unknown) => e,
    );
    const closed = waitFor<[{ remote: boolean; error?: LinkError }]>(sender, 'close');
    links[0]?.close({ condition: 'amqp:resource-deleted', description: 'gone' });
    const [info] = await closed;
    expect(info.remote).toBe(true);
    expect(info.error).toMatchObject({ condition: 'amqp:resource-deleted' });
    const waited = await waiter;
    expect(waited).toBeInstanceOf(LinkClosedError);
    expect(waited).toMatchObject({ linkName: 'idle-sender', cause: { condition: 'amqp:resource-deleted' } });
    const late = await sender.send(binaryMessage('late')).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(LinkClosedError);
    expect((late as Error).cause).toMatchObject({ condition: 'amqp:resource-deleted' });
  });
});

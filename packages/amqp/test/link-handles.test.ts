// A new link's handle is the lowest one not in use, as rhea's own scan from 0 gives it, while links come and go:
// seen by a rhea peer in our attach frames, on a connection we dial and on one our listener accepts.
import type { Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmqpConnection, type AmqpListener, connect, listen } from '../src/index';
import { closeClientAndServer, rhea, rheaConnectTo, rheaListen, until, waitFor } from './helpers';

interface RheaLink {
  remote: { attach?: { handle?: number } };
  close(): void;
  is_closed(): boolean;
}

let server: Server | undefined;
let client: AmqpConnection | undefined;
let listener: AmqpListener | undefined;
let rheaClose: (() => void) | undefined;

afterEach(async () => {
  rheaClose?.();
  await closeClientAndServer(client, server);
  await listener?.close();
  client = server = listener = rheaClose = undefined;
});

describe('link handles', () => {
  it('our client: closed links free their handles, the lowest free is taken first', async () => {
    const container = rhea.create_container({ id: 'handles-peer' });
    const seen: number[] = [];
    container.on('receiver_open', (context: { receiver: RheaLink }) => {
      seen.push(context.receiver.remote.attach?.handle ?? -1);
    });
    const listening = await rheaListen(container);
    server = listening.server;
    client = await connect({ host: '127.0.0.1', port: listening.port, reconnect: false });
    const senders = [];
    for (let i = 0; i < 5; i++) senders.push(await client.openSender(`q${i}`));
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    await senders[3]?.close();
    await senders[1]?.close();
    for (const name of ['a', 'b', 'c']) await client.openSender(name);
    expect(seen.slice(5)).toEqual([1, 3, 5]);
    await senders[0]?.close();
    await client.openSender('d');
    expect(seen.slice(8)).toEqual([0]);
  });

  it('our listener: the links it answers take the lowest free handle too', async () => {
    listener = await listen({});
    listener.on('connection', (connection) => connection.on('incomingLink', (link) => link.acceptReceiver()));
    const connection = rheaConnectTo(listener, 'handles-client');
    rheaClose = () => connection.close();
    const open = async (name: string): Promise<RheaLink> => {
      const sender = connection.open_sender({ name, target: { address: name } }) as unknown as RheaLink;
      await waitFor(sender as never, 'sender_open');
      return sender;
    };
    const ours = (link: RheaLink): number | undefined => link.remote.attach?.handle;
    const senders: RheaLink[] = [];
    for (let i = 0; i < 4; i++) senders.push(await open(`s${i}`));
    expect(senders.map(ours)).toEqual([0, 1, 2, 3]);
    for (const index of [2, 0]) {
      const sender = senders[index] as RheaLink;
      sender.close();
      await until(() => sender.is_closed());
    }
    // Our side frees a handle once both detaches are through; rhea's is_closed says ours arrived.
    const again = [await open('t0'), await open('t1'), await open('t2')];
    expect(again.map(ours)).toEqual([0, 2, 4]);
  });
});

// coalesceWrites on a real TCP socket: what a tick writes leaves in one write on the next tick, in order, with
// large writes, strings and end() keeping their place after what is batched.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/internal/socket';

const opened: net.Socket[] = [];
let server: net.Server | undefined;

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  if (server !== undefined) await new Promise<void>((resolve) => server?.close(() => resolve()));
  server = undefined;
});

/** A connected pair: `socket` (batched, its real writes recorded) and what its peer receives until 'end'. */
async function batchedPair(): Promise<{
  socket: net.Socket & { writeCopy?: (bytes: Uint8Array) => boolean };
  writes: unknown[];
  received: Promise<Buffer>;
}> {
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer(resolve);
  });
  server?.listen(0, '127.0.0.1');
  await once(server as net.Server, 'listening');
  const port = (server?.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  opened.push(socket);
  await once(socket, 'connect');
  const peer = await accepted;
  opened.push(peer);
  const chunks: Buffer[] = [];
  peer.on('data', (chunk: Buffer) => chunks.push(chunk));
  const received = once(peer, 'end').then(() => Buffer.concat(chunks));
  const writes: unknown[] = [];
  const write = socket.write;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    writes.push(Buffer.isBuffer(chunk) ? Buffer.from(chunk) : chunk);
    return (write as (...args: unknown[]) => boolean).call(socket, chunk, ...rest);
  }) as typeof socket.write;
  coalesceWrites(socket);
  return { socket, writes, received };
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('coalesceWrites', () => {
  it("sends a tick's small writes as one write on the next tick, copied when given", async () => {
    const { socket, writes, received } = await batchedPair();
    const reused = Buffer.from('bb');
    socket.write(Buffer.from('a'));
    socket.writeCopy?.(reused);
    reused.fill('x'); // the writer may reuse its buffer at once
    for (let i = 0; i < 10; i++) socket.write(Buffer.from(String(i)));
    expect(writes).toHaveLength(0);
    await nextTick();
    expect(writes).toEqual([Buffer.from('abb0123456789')]);
    socket.write(Buffer.from('next tick'));
    await nextTick();
    expect(writes).toHaveLength(2);
    socket.end();
    expect((await received).toString()).toBe('abb0123456789next tick');
  });

  it('keeps large writes, strings and end() after what is batched', async () => {
    const { socket, writes, received } = await batchedPair();
    const large = Buffer.alloc(20 * 1024, 0x6c);
    socket.write(Buffer.from('1'));
    socket.write(large);
    socket.write(Buffer.from('2'));
    socket.write('three');
    socket.write(Buffer.from('4'));
    socket.end();
    expect(writes).toEqual([Buffer.from('1'), large, Buffer.from('2'), 'three', Buffer.from('4')]);
    expect((await received).toString()).toBe(`1${large.toString()}2three4`);
  });

  it('drops what a destroyed socket was given, like a destroyed socket does', async () => {
    const { socket, writes } = await batchedPair();
    socket.write(Buffer.from('lost'));
    socket.destroy();
    await nextTick();
    expect(writes).toHaveLength(0);
    expect(socket.write(Buffer.from('after'))).toBe(false);
  });
});

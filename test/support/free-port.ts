import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on 127.0.0.1 by binding port 0 and releasing it.
 * For external processes that need a port number up front (RabbitMQ, the Proton broker);
 * our own servers should listen on port 0 directly instead.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not read the bound port');
  return address.port;
}

/** `count` distinct free ports (distinct even if the kernel hands the same one out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

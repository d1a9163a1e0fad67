/**
 * The gateway for `heap.ts`: started in this process (a child of heap.ts, with `--expose-gc`) and answering its
 * parent's IPC requests: `measure` (a full collection, then RSS and heap used), `snapshot` (a heap snapshot
 * written to the path given). Sends `{ ready, mqttPort }` once the gateway listens.
 */
import { writeHeapSnapshot } from 'node:v8';
import { startGateway } from '@dragoman/gateway';

type Request = { id: number; kind: 'measure' } | { id: number; kind: 'snapshot'; path: string };

const send = (message: unknown): void => {
  process.send?.(message);
};

async function main(): Promise<void> {
  const gateway = await startGateway({
    mqtt: '127.0.0.1:0',
    ws: 'off',
    amqpListen: '127.0.0.1:0',
    metrics: 'off',
    logLevel: 'warn',
    maxConnections: 1_000_000,
    maxConnectionsPerAddress: 1_000_000,
    connectRate: 0,
    connectRatePerAddress: 0,
  });
  process.on('message', (request: Request) => {
    if (request.kind === 'snapshot') {
      send({ id: request.id, path: writeHeapSnapshot(request.path) });
      return;
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const usage = process.memoryUsage();
    send({ id: request.id, rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external });
  });
  send({ ready: true, mqttPort: gateway.addresses.mqtt?.port });
}

void main();

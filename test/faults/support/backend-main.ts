/**
 * A process that runs only the embedded backend on its durable LMDB stores (sessions, retained, wills and the
 * unreleased QoS 2 publications, committed with their routing), so that a test can kill it with SIGKILL (no
 * close frames, no store close) and start another on the same port and path.
 *
 *   node --conditions=@dragoman/source --import tsx backend-main.ts <port> <store dir>
 *
 * Prints one JSON line `{"ready":true,"port":<port>}` once it listens. SIGTERM closes it in order.
 */
import { createBackend, openLmdbStores } from '@dragoman/mqtt-amqp';

async function main(): Promise<void> {
  const [portArg, dir] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || port <= 0 || dir === undefined) {
    throw new Error('usage: backend-main.ts <port> <store dir>');
  }
  const stores = openLmdbStores({ path: dir });
  const backend = await createBackend({ store: stores, listen: { host: '127.0.0.1', port } });
  backend.on('error', (error) => process.stderr.write(`backend error: ${error.message}\n`));
  process.once('SIGTERM', () => {
    void (async () => {
      await backend.close();
      await stores.close();
      process.exit(0);
    })();
  });
  process.stdout.write(`${JSON.stringify({ ready: true, port: backend.port })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/**
 * Child process of `qos2-atomic.test.ts`: on the LMDB stores at argv[2], opens session `sub`, then routes one
 * QoS 2 message into its backlog and remembers it (publisher `pub`, packet id 7) in one `atomically` group, and
 * SIGKILLs itself either inside that transaction, after both writes (`in-transaction`), or once it has
 * committed (`after-commit`).
 */
import { LmdbBackend } from '../../../src/store/lmdb-backend';
import { resolveStoreOptions } from '../../../src/store/options';
import { BackendSessionStore } from '../../../src/store/session-store';

const [path, when] = process.argv.slice(2);
if (path === undefined || (when !== 'in-transaction' && when !== 'after-commit')) {
  process.stderr.write('usage: kill-in-transaction <path> in-transaction|after-commit\n');
  process.exit(2);
}
const backend = new LmdbBackend(path);
const sessions = new BackendSessionStore(backend, resolveStoreOptions({}));
await sessions.open('sub', { clean: false });
const message = { topic: 'k/t', payload: Buffer.from('seven'), qos: 2 as const, retain: false };
const queued = backend.atomically(
  () => sessions.enqueue('sub', message),
  () => {
    backend.qos2.add({ clientId: 'pub', packetId: 7, fingerprint: 'f7' });
    if (when === 'in-transaction') process.kill(process.pid, 'SIGKILL');
  },
);
await queued;
process.kill(process.pid, 'SIGKILL');

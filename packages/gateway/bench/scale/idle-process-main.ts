/**
 * Entry of the idle-client child (started by `idle-process.ts`): answers `connect` (opens the clients, reporting
 * progress), `open` (how many the gateway has not closed) and `close` (closes them all and exits). It exits too
 * when its parent goes away, so that no orphan keeps thousands of sockets open.
 */
import { execSync } from 'node:child_process';
import { type IdleClients, openIdleClients } from './idle-clients';
import type { IdleReply, IdleRequest } from './idle-process';

const send = (reply: IdleReply): void => {
  process.send?.(reply);
};

let idle: IdleClients | undefined;

function closeAndExit(): never {
  idle?.close();
  process.exit(0);
}

async function handle(request: IdleRequest): Promise<void> {
  switch (request.kind) {
    case 'connect': {
      if (idle !== undefined) throw new Error('idle clients already connected');
      idle = await openIdleClients(request.port, request.count, {
        onProgress: (connected) => send({ kind: 'progress', connected }),
      });
      send({ kind: 'connected', connected: idle.sockets.length });
      return;
    }
    case 'open':
      send({ kind: 'open', open: idle?.open ?? 0 });
      return;
    case 'close':
      closeAndExit();
  }
}

process.on('disconnect', closeAndExit);
process.on('message', (request: IdleRequest) => {
  handle(request).catch((error: unknown) =>
    send({ kind: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
});
send({
  kind: 'ready',
  fdLimit: Number(execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim()),
});

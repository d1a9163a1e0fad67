/**
 * Memory per idle MQTT client with garbage excluded: the gateway runs in a child (`gateway-probe.ts`, with
 * `--expose-gc`) that collects before each reading; N idle clients (as in run.ts) connect; the difference in
 * RSS and heap used, divided by N, is printed as one JSON line. `--snapshot FILE` also writes a heap snapshot
 * with the clients connected (for counting per-client objects). The gateway is the built one (`npm run build`), or
 * `--probe FILE`: gateway-probe.ts bundled from the current sources, e.g. with esbuild
 * (`--bundle --platform=node --format=esm --conditions=@dragoman/source`, npm packages external).
 *
 *   sh -c 'ulimit -n 20000; node --import tsx packages/gateway/bench/scale/heap.ts --clients 3000'
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openIdleClients } from './idle-clients';

interface Reading {
  rss: number;
  heapUsed: number;
  external: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      snapshot: { type: 'string' },
      settle: { type: 'string' },
      probe: { type: 'string' },
    },
  });
  const clients = Number(values.clients ?? 3000);
  const settleMs = Number(values.settle ?? 2000);
  // The built gateway (dist), or a bundle of it (--probe): the sources through tsx would count the names tsx
  // gives every function (a dictionary-mode property store per closure) as per-client memory.
  const script = values.probe ?? fileURLToPath(new URL('./gateway-probe.ts', import.meta.url));
  const probe = fork(script, [], {
    execArgv: values.probe === undefined ? ['--expose-gc', '--import', 'tsx'] : ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const ask = async <T>(request: Record<string, unknown>): Promise<T> => {
    const id = nextId++;
    probe.send({ ...request, id });
    for (;;) {
      const [reply] = (await once(probe, 'message')) as [{ id?: number } & T];
      if (reply.id === id) return reply;
    }
  };
  try {
    const [ready] = (await once(probe, 'message')) as [{ mqttPort: number }];
    const before = await ask<Reading>({ kind: 'measure' });
    const idle = await openIdleClients(ready.mqttPort, clients);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const after = await ask<Reading>({ kind: 'measure' });
    const open = idle.open;
    const perClient = (a: number, b: number): number => Math.round(((b - a) / 1024 / open) * 100) / 100;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'scale-heap',
        clients: idle.sockets.length,
        openAtMeasure: open,
        rssPerClientKiB: perClient(before.rss, after.rss),
        heapPerClientKiB: perClient(before.heapUsed, after.heapUsed),
        externalPerClientKiB: perClient(before.external, after.external),
        rssBeforeMiB: Math.round(before.rss / 2 ** 20),
        rssAfterMiB: Math.round(after.rss / 2 ** 20),
      })}\n`,
    );
    if (values.snapshot !== undefined) {
      const { path } = await ask<{ path: string }>({ kind: 'snapshot', path: values.snapshot });
      process.stderr.write(`[bench:scale-heap] snapshot ${path}\n`);
    }
    idle.close();
  } finally {
    probe.kill();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

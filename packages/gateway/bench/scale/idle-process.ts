/**
 * The idle clients in a process of their own (`idle-process-main.ts`, forked with this process's execArgv), so
 * that their connecting and pinging never share an event loop with the stream being measured: the bench must
 * time the gateway, not its generator. The child inherits the descriptor limit (run.ts raised it before), reports
 * it when ready, and exits when this process goes away (its IPC channel closes), so no orphan holds the sockets.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Parent → child. */
export type IdleRequest =
  | { readonly kind: 'connect'; readonly port: number; readonly count: number }
  | { readonly kind: 'open' }
  | { readonly kind: 'close' };

/** Child → parent. */
export type IdleReply =
  | { readonly kind: 'ready'; readonly fdLimit: number }
  | { readonly kind: 'progress'; readonly connected: number }
  | { readonly kind: 'connected'; readonly connected: number }
  | { readonly kind: 'open'; readonly open: number }
  | { readonly kind: 'error'; readonly message: string };

/** The child holding the idle clients. */
export interface IdleClientProcess {
  readonly pid: number | undefined;
  /** The child's descriptor limit (`ulimit -n` as it sees it). */
  readonly fdLimit: number;
  /** Connects `count` clients to the gateway's MQTT port; resolves with the number connected. */
  connect(port: number, count: number): Promise<number>;
  /** Clients the gateway has not closed. */
  open(): Promise<number>;
  /** Closes every client and waits for the child to exit. */
  close(): Promise<void>;
  /** Ends the child at once (for clean-up after an error); does nothing once it has exited. */
  kill(): void;
}

const ENTRY = fileURLToPath(new URL('./idle-process-main.ts', import.meta.url));

type Waiter = {
  readonly kind: IdleReply['kind'];
  resolve(reply: IdleReply): void;
  reject(error: Error): void;
};

/** Starts the child and resolves once it is ready; `onProgress` hears how many have connected so far. */
export async function startIdleClientProcess(
  onProgress: (connected: number) => void = () => {},
): Promise<IdleClientProcess> {
  const child: ChildProcess = fork(ENTRY, [], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // One request at a time is outstanding; every reply but progress answers it.
  let waiter: Waiter | undefined;
  let exited: Error | undefined;
  const settle = (action: (current: Waiter) => void): void => {
    const current = waiter;
    waiter = undefined;
    if (current !== undefined) action(current);
  };
  child.on('message', (reply: IdleReply) => {
    if (reply.kind === 'progress') onProgress(reply.connected);
    else if (reply.kind === 'error') settle((current) => current.reject(new Error(reply.message)));
    else if (waiter?.kind === reply.kind) settle((current) => current.resolve(reply));
  });
  child.once('exit', (code, signal) => {
    exited = new Error(`idle-client process exited (${signal ?? code})`);
    settle((current) => current.reject(exited as Error));
  });
  const expect = <K extends IdleReply['kind']>(
    kind: K,
    request?: IdleRequest,
  ): Promise<Extract<IdleReply, { kind: K }>> =>
    new Promise((resolve, reject) => {
      if (exited !== undefined) return reject(exited);
      if (waiter !== undefined) return reject(new Error(`idle-client process busy with '${waiter.kind}'`));
      waiter = { kind, resolve: (reply) => resolve(reply as Extract<IdleReply, { kind: K }>), reject };
      if (request !== undefined) child.send(request);
    });

  const ready = await expect('ready');
  return {
    pid: child.pid,
    fdLimit: ready.fdLimit,
    async connect(port, count) {
      return (await expect('connected', { kind: 'connect', port, count })).connected;
    },
    async open() {
      return (await expect('open', { kind: 'open' })).open;
    },
    async close() {
      if (exited !== undefined) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ kind: 'close' } satisfies IdleRequest);
      await gone;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/**
 * Fault injection: the built gateway (`node packages/gateway/dist/cli.js`, durable `--store`) is killed with
 * SIGKILL in the middle of a QoS 1 stream from a persistent-session publisher to a persistent-session
 * subscriber, then restarted on the same store and ports. Everything the gateway PUBACKed before the kill
 * must reach the subscriber after the restart (mqtt.js reconnects both clients by itself); the publisher's
 * unacknowledged messages are re-sent by mqtt.js, so in the end every message is acknowledged and delivered.
 */
import type { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../support/free-port';
import { ManagedProcess } from '../support/managed-process';
import { withTimeout } from '../support/wait';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(root, 'packages/gateway/dist/cli.js');
const MESSAGES = 500;
const KILL_AFTER = 100;
const WAIT_MS = 60_000;

async function startGatewayProcess(args: readonly string[]): Promise<ManagedProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const gateway = await ManagedProcess.start(process.execPath, [CLI, ...args], { name: 'dragoman' });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const onLine = (line: string): void => {
        if (line.includes('"dragoman gateway started"')) {
          gateway.off('line', onLine);
          resolve();
        }
      };
      gateway.on('line', onLine);
      gateway.once('exit', () => reject(new Error(`dragoman exited at start:\n${gateway.outputTail()}`)));
    }),
    30_000,
    'the gateway process to start',
  );
  return gateway;
}

function persistentClient(url: string, clientId: string): MqttClient {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 250, connectTimeout: 10_000 });
  client.on('error', () => {});
  return client;
}

function until(
  client: MqttClient,
  event: 'connect' | 'message',
  check: () => boolean,
  what: string,
): Promise<void> {
  if (check()) return Promise.resolve();
  // mqtt.js types its events per name; this helper only needs "call me on every one".
  const emitter = client as unknown as EventEmitter;
  return withTimeout(
    new Promise<void>((resolve) => {
      const onEvent = (): void => {
        if (check()) {
          emitter.off(event, onEvent);
          resolve();
        }
      };
      emitter.on(event, onEvent);
    }),
    WAIT_MS,
    what,
  );
}

describe('the gateway process is killed (SIGKILL) during a QoS 1 stream and restarted', () => {
  const processes: ManagedProcess[] = [];
  const clients: MqttClient[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    for (const gateway of processes.splice(0)) await gateway.stop({ timeoutMs: 10_000 });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('delivers everything it PUBACKed before the kill', async () => {
    dir = mkdtempSync(join(tmpdir(), 'dragoman-kill-'));
    const [mqttPort, amqpPort] = await freePorts(2);
    const args = [
      '--mqtt',
      `127.0.0.1:${mqttPort}`,
      '--ws',
      'off',
      '--amqp-listen',
      `127.0.0.1:${amqpPort}`,
      '--store',
      dir,
      '--log-format',
      'json',
    ];
    const first = await startGatewayProcess(args);
    processes.push(first);
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const topic = 'faults/kill/stream';

    const subscriber = persistentClient(url, 'kill-subscriber');
    clients.push(subscriber);
    const received = new Map<string, number>();
    subscriber.on('message', (_topic, payload) => {
      const id = payload.toString();
      received.set(id, (received.get(id) ?? 0) + 1);
    });
    await until(subscriber, 'connect', () => subscriber.connected, 'the subscriber to connect');
    await subscriber.subscribeAsync(topic, { qos: 1 });

    const publisher = persistentClient(url, 'kill-publisher');
    clients.push(publisher);
    await until(publisher, 'connect', () => publisher.connected, 'the publisher to connect');
    const ids = Array.from({ length: MESSAGES }, (_, i) => `kill-${String(i).padStart(4, '0')}`);
    const acked = new Set<string>();
    const failed: string[] = [];
    const allAcked = new Promise<void>((resolve) => {
      for (const id of ids) {
        publisher.publish(topic, id, { qos: 1 }, (error) => {
          if (error) failed.push(`${id}: ${error.message}`);
          else acked.add(id);
          if (acked.size + failed.length === ids.length) resolve();
        });
      }
    });

    // Mid-stream: kill it. What was acknowledged up to its last breath is what the kill must not lose.
    await until(
      subscriber,
      'message',
      () => received.size >= KILL_AFTER,
      `${KILL_AFTER} messages before the kill`,
    );
    first.killGroupNow();
    const exit = await withTimeout(first.exited, 10_000, 'the killed gateway to exit');
    expect(exit.signal).toBe('SIGKILL');
    const ackedBeforeKill = [...acked];
    const receivedBeforeKill = received.size;
    expect(ackedBeforeKill.length).toBeGreaterThan(0);

    const second = await startGatewayProcess(args);
    processes.push(second);

    await until(
      subscriber,
      'message',
      () => ackedBeforeKill.every((id) => received.has(id)),
      'every message PUBACKed before the kill to reach the subscriber',
    );
    await withTimeout(allAcked, WAIT_MS, 'the publisher to get every PUBACK after the restart');
    expect(failed).toEqual([]);
    await until(subscriber, 'message', () => received.size >= MESSAGES, `all ${MESSAGES} messages`);
    console.log(
      `kill: ${ackedBeforeKill.length} PUBACKed and ${receivedBeforeKill} received before SIGKILL; ` +
        `after restart all ${MESSAGES} delivered (${[...received.values()].filter((n) => n > 1).length} redelivered, allowed at QoS 1)`,
    );
    expect(ids.filter((id) => !received.has(id))).toEqual([]);
  }, 150_000);
});

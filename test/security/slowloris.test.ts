/**
 * Slowloris: 500 sockets trickle the bytes of a CONNECT, one every 250 ms, never the last one. The CONNECT time
 * limit (`connectTimeoutMs`, 3 s here) must close each of them — every 'close' is awaited, and the server must
 * report each as `connect-timeout` — while a well-behaved mqtt.js client still connects, subscribes, publishes
 * and receives. The attack is kept at 500 open sockets (a closed one is replaced) until that client is done,
 * so it really runs under the attack. Memory stays bounded: slow sockets never reach the bridge, and the
 * bytes buffered in the server's sockets stay tiny. The second test runs a smaller attack against the full
 * `startGateway` composition, whose CONNECT limit is the endpoint's default 10 s (not a gateway option yet),
 * and reads the result from the gateway's own metrics.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { retryUntil, withTimeout } from '../support/wait';
import { roundTrip, startFuzzGateway } from './fuzz/gateway-target';
import { forceGc } from './fuzz/run';
import { type AttackStack, startAttackStack } from './support/stack';

const ATTACKERS = 500;
const CONNECT_TIMEOUT_MS = 3_000;
const TRICKLE_MS = 250;

const CONNECT_BYTES = mqttPacket.generate(
  {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: 'slow-loris',
    keepalive: 60,
  },
  { protocolVersion: 4 },
);

interface Attacker {
  readonly socket: Socket;
  /** Resolves when the socket closes; the test never closes one itself, so that is the server's doing. */
  readonly closed: Promise<void>;
}

function attack(port: number): Attacker {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume();
  let sent = 0;
  const trickle = setInterval(() => {
    // Never the last byte: the CONNECT is never complete.
    if (sent < CONNECT_BYTES.length - 1 && socket.writable)
      socket.write(CONNECT_BYTES.subarray(sent, ++sent));
  }, TRICKLE_MS);
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      clearInterval(trickle);
      resolve();
    });
  });
  socket.once('connect', () => socket.write(CONNECT_BYTES.subarray(0, ++sent)));
  return { socket, closed };
}

describe('slowloris', () => {
  let stack: AttackStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('closes every never-completed CONNECT at the connect time-out and keeps serving a good client', async () => {
    forceGc();
    const heapBefore = process.memoryUsage().heapUsed;
    const running = await startAttackStack({ mqtt: { connectTimeoutMs: CONNECT_TIMEOUT_MS } });
    stack = running;
    let timedOut = 0;
    running.mqtt.on('connectionError', (reason) => {
      if (reason.kind === 'connect-timeout') timedOut += 1;
    });

    const attackers: Attacker[] = [];
    let sustain = true;
    let maxBuffered = 0;
    let maxEndpoints = 0;
    let maxBridged = 0;
    const sample = (): void => {
      maxBuffered = Math.max(maxBuffered, running.bufferedSocketBytes());
      maxEndpoints = Math.max(maxEndpoints, running.mqtt.endpoints.size);
      maxBridged = Math.max(maxBridged, running.bridge.stats().clients);
    };
    const launch = (): void => {
      const attacker = attack(running.port);
      attackers.push(attacker);
      void attacker.closed.then(() => {
        sample();
        if (sustain) launch();
      });
    };
    for (let i = 0; i < ATTACKERS; i++) launch();
    const sampler = setInterval(sample, 100);

    try {
      // The good client is served while 500 slow sockets are held open.
      await roundTrip(running.url, 20_000);
      sample();
    } finally {
      sustain = false;
      clearInterval(sampler);
    }

    // Every attacker, the replacements included, is closed by the server within its CONNECT time limit.
    await withTimeout(
      Promise.all(attackers.map((a) => a.closed)),
      CONNECT_TIMEOUT_MS + 30_000,
      `the ${attackers.length} slowloris sockets to be closed`,
    );
    expect(attackers.length).toBeGreaterThanOrEqual(ATTACKERS);
    expect(timedOut).toBe(attackers.length);

    // Bounded: no slow socket became an endpoint or a bridged client (only the good one did), and the server's
    // sockets never held more than a few bytes each.
    expect(maxEndpoints).toBeLessThanOrEqual(1);
    expect(maxBridged).toBeLessThanOrEqual(1);
    expect(maxBuffered).toBeLessThanOrEqual(ATTACKERS * CONNECT_BYTES.length);
    // The server's side of each socket is gone too (it closes just after the client's side sees the FIN).
    await withTimeout(
      Promise.all(
        [...running.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))),
      ),
      10_000,
      'the server-side sockets to close',
    );
    expect(running.sockets.size).toBe(0);
    forceGc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    console.log(
      `slowloris: ${attackers.length} sockets closed by the connect time-out; max buffered ${maxBuffered} B; heap growth ${growth} B`,
    );
    expect(growth).toBeLessThan(32 * 1024 * 1024);
  }, 90_000);

  it('the full gateway (startGateway, 10 s CONNECT limit): 200 trickling sockets closed, counted, good client served', async () => {
    const target = await startFuzzGateway();
    try {
      const { gateway } = target;
      const url = gateway.addresses.mqtt?.url ?? '';
      const attackers = Array.from({ length: 200 }, () => attack(target.target.port));
      await roundTrip(url, 20_000);
      await withTimeout(
        Promise.all(attackers.map((a) => a.closed)),
        10_000 + 30_000,
        'the slowloris sockets to be closed by the gateway',
      );
      // The gateway counted each as a CONNECT time-out, and holds no connection for them any more.
      const errors = await gateway.metrics.getSingleMetric('dragoman_errors_total')?.get();
      const timeouts = errors?.values.find((v) => v.labels.reason === 'connect-timeout')?.value ?? 0;
      expect(timeouts).toBe(200);
      await retryUntil(
        async () => {
          const live = await target.liveConnections();
          if (live !== 0) throw new Error(`${live} connections still open`);
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the gateway to hold no connection' },
      );
    } finally {
      await target.close();
    }
  }, 90_000);
});

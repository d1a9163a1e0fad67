/**
 * MqttServer on a WebSocket stream (ws's createWebSocketStream), with mqtt.js connecting over ws://.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { type InboundPublish, type MqttEndpoint, MqttServer } from '../src/index';
import { next, TIMEOUT_MS } from './support/harness';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it.each([4, 5] as const)('serves an mqtt.js client over WebSocket (version %i)', async (version) => {
  const server = new MqttServer();
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer });
  wss.on('connection', (ws) => server.accept(createWebSocketStream(ws)));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        httpServer.close(() => resolve());
      }),
  );
  const { port } = httpServer.address() as AddressInfo;

  server.on('endpoint', (endpoint: MqttEndpoint) => {
    endpoint.accept();
    endpoint.on('publish', (message: InboundPublish) => {
      message.ack();
      void endpoint.publish({ topic: `echo/${message.topic}`, payload: message.payload, qos: 1 });
    });
  });
  const client = mqtt.connect(`ws://127.0.0.1:${port}`, {
    protocolVersion: version,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS,
  });
  cleanups.push(() => {
    client.end(true);
  });
  await next(client, 'connect');
  const echoed = next<[string, Buffer]>(client, 'message');
  await client.publishAsync('ping', 'over ws', { qos: 1 });
  const [topic, payload] = await echoed;
  expect(topic).toBe('echo/ping');
  expect(payload.toString()).toBe('over ws');
});

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createConnection } from 'node:net';
import { createDeviceSession, type DeviceSession } from '@dragoman/adapter';
import { type AmqpConnection, connect } from '@dragoman/amqp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliverCommand } from '../src/deliver-command';
import { RheaCommands } from './rhea-commands';

/**
 * deliverCommand on its own, where the test decides when the HTTP client is gone: a node:http server whose
 * handler takes one command from a device session on a rhea command side, and a raw TCP client.
 */
describe('deliverCommand', () => {
  let side: RheaCommands;
  let connection: AmqpConnection;
  let session: DeviceSession;
  let server: Server;
  /** What the handler does between taking the command and delivering it. */
  let beforeDelivery: (request: IncomingMessage) => void;

  beforeEach(async () => {
    side = await RheaCommands.start();
    connection = await connect({ url: side.url, reconnect: false });
    session = createDeviceSession(connection, 'valve-3');
    beforeDelivery = () => undefined;
    server = createServer(async (request, response) => {
      const command = await session.receiveCommand({ timeoutMs: 10_000 });
      if (command === undefined) {
        response.writeHead(204).end();
        return;
      }
      beforeDelivery(request);
      deliverCommand(response, command);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await session.close();
    await connection.close();
    await side.close();
  });

  function poll(): ReturnType<typeof createConnection> {
    const client = createConnection({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    client.on('error', () => undefined);
    client.write('GET /commands/valve-3 HTTP/1.1\r\nhost: device\r\n\r\n');
    return client;
  }

  it('releases the command when the HTTP client is gone before it is written', async () => {
    beforeDelivery = (request) => request.socket.destroy();
    const client = poll();
    const link = await side.nextLink('commands/valve-3');
    const closed = once(client, 'close', { signal: AbortSignal.timeout(10_000) });
    expect(await side.send(link, { body: 'open' })).toBe('released');
    await closed;
  });

  it('rejects a command whose body is not bytes, and answers 502', async () => {
    const client = poll();
    const link = await side.nextLink('commands/valve-3');
    const answer = once(client, 'data', { signal: AbortSignal.timeout(10_000) });
    expect(await side.send(link, { body: 42 })).toBe('rejected');
    const [data] = (await answer) as [Buffer];
    expect(data.toString('latin1')).toMatch(/^HTTP\/1\.1 502/);
    expect(data.toString('latin1')).toContain('{"error":"undeliverable-command"}');
    client.destroy();
  });
});

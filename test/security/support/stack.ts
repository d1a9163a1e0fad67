/**
 * The gateway composition built from its packages (embedded backend, bridge gateway, MqttServer, TCP listener)
 * for the attack tests, because they need what `startGateway` does not expose: the MQTT server's connect
 * time-out (configured short here) and direct `stats()` of the bridge gateway and the backend. It is wired as
 * packages/gateway/src/mqtt-front-end.ts wires it (pooled AMQP connections, `bridge.attach(mqtt)`).
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { MqttServer, type MqttServerOptions } from '@dragoman/mqtt';
import {
  type Backend,
  type BackendOptions,
  type BridgeGateway,
  createBackend,
  createBridgeGateway,
} from '@dragoman/mqtt-amqp';

export interface AttackStack {
  readonly backend: Backend;
  readonly bridge: BridgeGateway;
  readonly mqtt: MqttServer;
  readonly url: string;
  readonly port: number;
  /** Server-side sockets open right now. */
  readonly sockets: ReadonlySet<Socket>;
  /** Bytes held in the server-side sockets' stream buffers (unread input plus unsent output). */
  bufferedSocketBytes(): number;
  close(): Promise<void>;
}

export async function startAttackStack(
  options: { mqtt?: MqttServerOptions; backend?: BackendOptions } = {},
): Promise<AttackStack> {
  const backend = await createBackend(options.backend ?? {});
  const bridge = createBridgeGateway({ amqp: { url: backend.url }, connectionMode: 'pooled', poolSize: 2 });
  const mqtt = new MqttServer(options.mqtt ?? {});
  bridge.attach(mqtt);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    mqtt.accept(socket);
  });
  server.listen({ host: '127.0.0.1', port: 0, backlog: 2_048 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    backend,
    bridge,
    mqtt,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    sockets,
    bufferedSocketBytes() {
      let bytes = 0;
      for (const socket of sockets) bytes += socket.readableLength + socket.writableLength;
      return bytes;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await bridge.close();
      mqtt.close();
      for (const socket of sockets) socket.destroy();
      await closed;
      await backend.close();
    },
  };
}

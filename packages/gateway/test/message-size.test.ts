/**
 * `--max-packet-size` also sizes the AMQP side and the embedded backend's store. Towards an external network,
 * the gateway announces max(2 MiB, 2 × max packet size) as max-message-size on each client's publish link, so a
 * message the MQTT side may carry is not refused on the way in; that network is rhea itself, which accepts what
 * the bridge sends and, playing the Subscription service, sends a large message to the client's publish
 * address. On the embedded backend, its own receiving links announce the same size and its store keeps payloads
 * up to the packet size, so a large message acknowledged to its publisher reaches the subscriber. The MQTT
 * clients are mqtt.js.
 */
import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { IDisconnectPacket, MqttClient } from 'mqtt';
import { pino } from 'pino';
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayOptions, type RunningGateway, startGateway } from '../src/index';
import { mqttConnect, next, rheaConnect, rheaSender, WAIT_MS } from './support/peers';

const MIB = 1024 * 1024;
const LARGE = 2.5 * MIB;
const MESSAGE_SIZE_EXCEEDED = 'amqp:link:message-size-exceeded';

const silent = pino({ level: 'silent' });
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];
const networks: Network[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
  await Promise.all(networks.splice(0).map((n) => n.close()));
});

interface PublishLink {
  readonly sender: Sender;
  /** max-message-size the gateway announced when it attached (undefined: none). */
  readonly maxMessageSize: number | undefined;
}

/**
 * A rhea AMQP network that accepts every message the bridge sends (Will and Subscription service requests,
 * topic messages) and keeps the sender it opens for each `$mqtt.to.<client-id>.publish` link.
 */
class Network {
  private readonly publishLinks = new Map<string, PublishLink>();
  private readonly attached = new EventEmitter();
  private readonly connections = new Set<Connection>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Network> {
    const container = rhea.create_container({ id: 'external-network' });
    const server = container.listen({ host: '127.0.0.1', port: 0 }) as unknown as Server;
    const network = new Network(server);
    network.wire(container);
    await next(server, 'listening');
    networks.push(network);
    return network;
  }

  get url(): string {
    return `amqp://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The publish link of `clientId` once the gateway has attached it. */
  async publishLink(clientId: string): Promise<PublishLink> {
    const address = `$mqtt.to.${clientId}.publish`;
    const signal = AbortSignal.timeout(WAIT_MS);
    let link = this.publishLinks.get(address);
    while (link === undefined) {
      await once(this.attached, 'publish-link', { signal });
      link = this.publishLinks.get(address);
    }
    return link;
  }

  /** Waits for credit, then sends `message` unsettled; resolves with the gateway's outcome or its detach. */
  async send(link: PublishLink, message: Message): Promise<{ outcome: string } | { detached: string }> {
    const { sender } = link;
    if (!sender.sendable()) await next(sender, 'sendable');
    const outcome = new Promise<{ outcome: string }>((resolve) => {
      for (const state of ['accepted', 'rejected', 'released', 'modified'] as const) {
        sender.once(state, () => resolve({ outcome: state }));
      }
    });
    const detached = next<[EventContext]>(sender, 'sender_close').then(([context]) => ({
      detached: (context.sender?.error as { condition?: string } | undefined)?.condition ?? '(no error)',
    }));
    sender.send(message);
    return Promise.race([outcome, detached]);
  }

  async close(): Promise<void> {
    // The gateway has closed its connections by now; end whatever is left, then stop listening.
    for (const connection of this.connections) connection.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private wire(container: rhea.Container): void {
    container.on('connection_open', (context) => this.connections.add(context.connection));
    container.on('connection_close', (context) => this.connections.delete(context.connection));
    container.on('disconnected', (context) => this.connections.delete(context.connection));
    container.on('sender_open', (context) => {
      const sender = context.sender as Sender;
      const attach = (sender as unknown as { remote: { attach?: RemoteAttach } }).remote.attach;
      const address = attach?.source?.address;
      if (address?.endsWith('.publish') !== true) return;
      this.publishLinks.set(address, { sender, maxMessageSize: attach?.max_message_size });
      this.attached.emit('publish-link');
    });
    // The gateway detaching a link it was sent too large a message on is what the test looks for.
    container.on('sender_error', () => {});
  }
}

interface RemoteAttach {
  readonly source?: { readonly address?: string };
  readonly max_message_size?: number;
}

/** An MQTT-over-AMQP publish of `bytes` bytes to `topic` at QoS 1, as the Subscription service sends it. */
function largeMessage(topic: string, bytes: number): Message {
  return {
    to: topic,
    durable: true,
    message_annotations: { 'x-opt-mqtt-qos': 1, 'x-opt-retain-message': false },
    body: rhea.message.data_section(Buffer.alloc(bytes, 'm')),
  } as Message;
}

async function gatewayTowards(network: Network, options: GatewayOptions = {}): Promise<RunningGateway> {
  const gateway = await startGateway(
    { mqtt: '127.0.0.1:0', ws: 'off', amqp: network.url, ...options },
    { logger: silent },
  );
  gateways.push(gateway);
  return gateway;
}

async function subscriber(gateway: RunningGateway, clientId: string): Promise<MqttClient> {
  const client = await mqttConnect(gateway.addresses.mqtt?.url ?? '', {
    protocolVersion: 5,
    clientId,
    // The client takes packets up to 4 MiB (mqtt.js itself sets no limit).
    properties: { maximumPacketSize: 4 * MIB },
  });
  clients.push(client);
  await client.subscribeAsync('big/#', { qos: 1 });
  return client;
}

describe('--max-packet-size sizes the AMQP messages the gateway takes for a client', () => {
  it('with 3 MiB, announces 6 MiB and a 2.5 MiB message reaches the MQTT subscriber whole', async () => {
    const network = await Network.start();
    const gateway = await gatewayTowards(network, { maxPacketSize: 3 * MIB });
    const client = await subscriber(gateway, 'large-ok');
    const link = await network.publishLink('large-ok');
    expect(link.maxMessageSize).toBe(6 * MIB);

    const received = next<[string, Buffer]>(client, 'message');
    // QoS 1: accepted once mqtt.js has acknowledged it.
    expect(await network.send(link, largeMessage('big/one', LARGE))).toEqual({ outcome: 'accepted' });
    const [topic, payload] = await received;
    expect(topic).toBe('big/one');
    expect(payload.length).toBe(LARGE);
    expect(payload.every((byte) => byte === 'm'.charCodeAt(0))).toBe(true);
    expect(client.connected).toBe(true);
  });

  it('by default, announces 2 MiB; a larger message detaches the link and the client is disconnected', async () => {
    const network = await Network.start();
    const gateway = await gatewayTowards(network);
    const client = await subscriber(gateway, 'large-refused');
    const link = await network.publishLink('large-refused');
    expect(link.maxMessageSize).toBe(2 * MIB);

    let delivered = 0;
    client.on('message', () => delivered++);
    const disconnected = next<[IDisconnectPacket]>(client, 'disconnect');
    expect(await network.send(link, largeMessage('big/two', LARGE))).toEqual({
      detached: MESSAGE_SIZE_EXCEEDED,
    });
    // The bridge cannot serve the client without its publish link: DISCONNECT 0x80 (unspecified error).
    expect((await disconnected)[0].reasonCode).toBe(0x80);
    expect(delivered).toBe(0);
  });
});

describe('--max-packet-size on the embedded backend', () => {
  async function embedded(maxPacketSize: number): Promise<RunningGateway> {
    const gateway = await startGateway(
      { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', maxPacketSize },
      { logger: silent },
    );
    gateways.push(gateway);
    return gateway;
  }

  it('with 3 MiB, a 2.5 MiB QoS 1 PUBLISH acknowledged to its publisher reaches a QoS 1 subscriber', async () => {
    const gateway = await embedded(3 * MIB);
    const client = await subscriber(gateway, 'embedded-subscriber');
    const publisher = await mqttConnect(gateway.addresses.mqtt?.url ?? '', {
      protocolVersion: 5,
      clientId: 'embedded-publisher',
    });
    clients.push(publisher);

    const received = next<[string, Buffer]>(client, 'message');
    // Acknowledged means stored for the subscriber's session: the store takes what the MQTT side admits.
    await publisher.publishAsync('big/mqtt', Buffer.alloc(LARGE, 'q'), { qos: 1 });
    const [topic, payload] = await received;
    expect(topic).toBe('big/mqtt');
    expect(payload.length).toBe(LARGE);
    expect(payload.every((byte) => byte === 'q'.charCodeAt(0))).toBe(true);
  });

  it("with 3 MiB, the backend's AMQP port takes a 2.5 MiB message from an AMQP peer for an MQTT subscriber", async () => {
    const gateway = await embedded(3 * MIB);
    const client = await subscriber(gateway, 'embedded-amqp-subscriber');
    const connection = await rheaConnect(gateway.addresses.amqp.port);
    const sender = await rheaSender(connection, 'big/amqp');
    try {
      const attach = (sender as unknown as { remote: { attach?: RemoteAttach } }).remote.attach;
      expect(attach?.max_message_size).toBe(6 * MIB);

      const received = next<[string, Buffer]>(client, 'message');
      const accepted = next(sender, 'accepted');
      sender.send(largeMessage('big/amqp', LARGE));
      await accepted;
      const [topic, payload] = await received;
      expect(topic).toBe('big/amqp');
      expect(payload.length).toBe(LARGE);
    } finally {
      connection.close();
    }
  });
});

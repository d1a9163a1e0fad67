/**
 * An MQTT client on a raw socket (mqtt-packet's parser and generator): it sends exactly the packets a test says
 * and answers nothing by itself — no PUBACK, no PINGREQ — so a test sees every PUBLISH as the server wrote it
 * (packet id, DUP) and decides what is acknowledged. MQTT 3.1.1 (4) or 5.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import { WAIT_MS } from './peers';

export type RawProtocolVersion = 4 | 5;

export interface RawConnectOptions {
  readonly version: RawProtocolVersion;
  /** MQTT 5: seconds the session outlives the connection (without one it ends with it). */
  readonly sessionExpiryInterval?: number;
}

export class RawMqttClient {
  /** Every packet received, in order. */
  readonly packets: Packet[] = [];
  readonly #socket: Socket;
  readonly #version: RawProtocolVersion;
  #wake: () => void = () => {};
  #closed = false;

  private constructor(socket: Socket, version: RawProtocolVersion) {
    this.#socket = socket;
    this.#version = version;
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.#wake();
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** Connects with a persistent session (clean session / clean start false) and waits for the CONNACK. */
  static async connect(
    port: number,
    clientId: string,
    options: RawConnectOptions,
  ): Promise<{ client: RawMqttClient; connack: IConnackPacket }> {
    const socket = netConnect(port, '127.0.0.1');
    const client = new RawMqttClient(socket, options.version);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: options.version,
      clean: false,
      keepalive: 0,
      clientId,
      ...(options.sessionExpiryInterval !== undefined
        ? { properties: { sessionExpiryInterval: options.sessionExpiryInterval } }
        : {}),
    });
    const connack = (await client.next((p) => p.cmd === 'connack', 'CONNACK')) as IConnackPacket;
    return { client, connack };
  }

  send(packet: Packet): void {
    this.#socket.write(mqttPacket.generate(packet, { protocolVersion: this.#version }));
  }

  /** Subscribes (one filter) and waits for the SUBACK. */
  async subscribe(topic: string, qos: 0 | 1 | 2, messageId = 1): Promise<void> {
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
    await this.next((p) => p.cmd === 'suback' && p.messageId === messageId, 'SUBACK');
  }

  /** The PUBLISH packets received so far. */
  get publishes(): IPublishPacket[] {
    return this.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
  }

  /** Resolves once `count` PUBLISH packets have arrived (rejects on close or after `timeoutMs`). */
  async publishesUpTo(count: number, timeoutMs = WAIT_MS): Promise<IPublishPacket[]> {
    await this.#until(() => this.publishes.length >= count, `${count} PUBLISH packets`, timeoutMs);
    return this.publishes;
  }

  /** The first packet received (so far or later) that matches. */
  async next(match: (packet: Packet) => boolean, what: string, timeoutMs = WAIT_MS): Promise<Packet> {
    let found: Packet | undefined;
    await this.#until(
      () => {
        found = this.packets.find(match);
        return found !== undefined;
      },
      what,
      timeoutMs,
    );
    return found as Packet;
  }

  /** Closes the socket without DISCONNECT (the server sees the connection lost). */
  destroy(): void {
    this.#socket.destroy();
  }

  #until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = () => {};
        reject(new Error(`timed out waiting for ${what} (got ${this.packets.length} packets)`));
      }, timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.#wake = () => {};
          resolve();
        } else if (this.#closed) {
          clearTimeout(timer);
          this.#wake = () => {};
          reject(new Error(`the connection closed before ${what} (got ${this.packets.length} packets)`));
        }
      };
      this.#wake = check;
      check();
    });
  }
}

/**
 * A bare MQTT client on mqtt-packet (someone else's codec) for tests that must control exactly when
 * acknowledgements are written — mqtt.js processes packets one by one and stalls while an ack is held.
 */
import { EventEmitter, once } from 'node:events';
import { connect, type Socket } from 'node:net';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';

export class RawMqttClient extends EventEmitter {
  readonly packets: Packet[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly protocolVersion: 4 | 5,
  ) {
    super();
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.emit('packet', packet);
    });
    parser.on('error', (error: Error) => this.emit('parse-error', error));
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.emit('close'));
  }

  /** Connects and waits for CONNACK (whatever its code). */
  static async connect(
    port: number,
    connectPacket: Omit<IConnectPacket, 'cmd'> & { protocolVersion: 4 | 5 },
  ): Promise<{ client: RawMqttClient; connack: Packet }> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new RawMqttClient(socket, connectPacket.protocolVersion);
    const connack = client.next((p) => p.cmd === 'connack');
    client.send({ cmd: 'connect', protocolId: 'MQTT', ...connectPacket } as IConnectPacket);
    return { client, connack: await connack };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  /** The first packet (already received or future) matching `predicate`. */
  next(predicate: (packet: Packet) => boolean, timeoutMs = 10_000): Promise<Packet> {
    const seen = this.packets.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('packet', onPacket);
        reject(new Error('timed out waiting for a packet'));
      }, timeoutMs);
      const onPacket = (packet: Packet): void => {
        if (!predicate(packet)) return;
        clearTimeout(timer);
        this.off('packet', onPacket);
        resolve(packet);
      };
      this.on('packet', onPacket);
    });
  }

  /** PINGREQ / PINGRESP: everything the server wrote before has arrived when this resolves. */
  async roundTrip(): Promise<void> {
    const before = this.packets.filter((p) => p.cmd === 'pingresp').length;
    this.send({ cmd: 'pingreq' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no PINGRESP')), 10_000);
      const check = (): void => {
        if (this.packets.filter((p) => p.cmd === 'pingresp').length > before) {
          clearTimeout(timer);
          this.off('packet', check);
          resolve();
        }
      };
      this.on('packet', check);
    });
  }

  publishes(): Array<mqttPacket.IPublishPacket> {
    return this.packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

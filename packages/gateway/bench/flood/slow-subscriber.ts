/**
 * A deliberately slow MQTT 3.1.1 subscriber on a raw socket: it acknowledges at most `ackRate` QoS 1
 * PUBLISHes per second and stops reading its socket while more than `maxUnacked` are waiting, so the gateway
 * sees both a full in-flight window and TCP back-pressure, as from a device on a poor link.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

const TICK_MS = 10;

export class SlowSubscriber {
  received = 0;
  acknowledged = 0;
  readonly #socket: Socket;
  readonly #pending: number[] = [];
  readonly #timer: NodeJS.Timeout;
  #budget = 0;

  private constructor(
    socket: Socket,
    readonly ackRate: number,
    readonly maxUnacked: number,
  ) {
    this.#socket = socket;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  static async start(
    port: number,
    topic: string,
    ackRate: number,
    maxUnacked = 1_000,
  ): Promise<SlowSubscriber> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const subscriber = new SlowSubscriber(socket, ackRate, maxUnacked);
    const subscribed = new Promise<void>((resolve, reject) => {
      parser.on('packet', (packet) => {
        if (packet.cmd === 'connack') {
          if (packet.returnCode !== 0) reject(new Error(`CONNACK ${packet.returnCode}`));
          else
            socket.write(
              mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }),
            );
        } else if (packet.cmd === 'suback') {
          resolve();
        } else if (packet.cmd === 'publish') {
          subscriber.received++;
          if (packet.qos > 0 && packet.messageId !== undefined) subscriber.#pending.push(packet.messageId);
          if (subscriber.#pending.length > subscriber.maxUnacked) socket.pause();
        }
      });
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 60,
        clientId: `slow-${process.pid}`,
      }),
    );
    await subscribed;
    return subscriber;
  }

  get unacked(): number {
    return this.#pending.length;
  }

  #tick(): void {
    this.#budget = Math.min(this.#budget + (this.ackRate * TICK_MS) / 1000, this.ackRate);
    while (this.#budget >= 1 && this.#pending.length > 0) {
      const messageId = this.#pending.shift();
      if (messageId === undefined) break;
      this.#socket.write(mqttPacket.generate({ cmd: 'puback', messageId }));
      this.acknowledged++;
      this.#budget--;
    }
    if (this.#pending.length <= this.maxUnacked / 2 && this.#socket.isPaused()) this.#socket.resume();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#socket.destroy();
  }
}

// Message encoding for a transfer: rhea's encoder (`rhea.message.encode(toRhea(m))`, what Sender uses today)
// beside `encodeMessage` (the direct encoder), same process, alternating rounds. One JSON line per message
// shape: median ns per message of both and their ratio.
import * as rheaNamespace from 'rhea';
import { type AmqpMessage, binaryMessage, toRhea } from '../src/index';
import { encodeMessage } from '../src/message';

type Rhea = typeof rheaNamespace;
const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);

/** QoS as the enmasse dialect writes it: an AMQP int, through rhea's `toRheaTyped()` hook. */
const INT = {
  typecode: 0x71,
  width: 4,
  category: 1,
  write: (b: Buffer, v: number, o: number) => b.writeInt32BE(v, o),
};
const typedInt = (value: number) => ({ toRheaTyped: () => ({ type: INT, value }) });

const SHAPES: Record<string, AmqpMessage> = {
  // What the MQTT bridge sends for a QoS 1 PUBLISH of 64 bytes (QoS as a plain number).
  'bridge-publish': binaryMessage(Buffer.alloc(64, 0x61), {
    header: { durable: true },
    properties: { to: 'bench/abcdef' },
    messageAnnotations: { 'x-opt-retain': false, 'x-opt-mqtt-qos': 1 },
  }),
  // The same as @dragoman/mqtt-amqp builds it (enmasse dialect): QoS an AMQP int, DUP as delivery-count.
  'bridge-publish-typed-qos': binaryMessage(Buffer.alloc(64, 0x61), {
    header: { durable: true, deliveryCount: 0 },
    properties: { messageId: 17, to: 'bench/abcdef' },
    messageAnnotations: { 'x-opt-retain-message': false, 'x-opt-mqtt-qos': typedInt(1) },
  }),
  'with-application-properties': binaryMessage(Buffer.alloc(64, 0x61), {
    header: { durable: true },
    properties: { to: 'bench/abcdef', messageId: 17, contentType: 'text/plain' },
    applicationProperties: { device: 'sensor-17', seq: 123_456, ok: true },
  }),
};

function time(encode: (message: AmqpMessage) => Buffer, message: AmqpMessage): number {
  const startedAt = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < MESSAGES; i++) bytes += encode(message).length;
  if (bytes === 0) throw new Error('nothing encoded');
  return Number(process.hrtime.bigint() - startedAt) / MESSAGES;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const viaRhea = (message: AmqpMessage): Buffer => rhea.message.encode(toRhea(message));

for (const [shape, message] of Object.entries(SHAPES)) {
  time(viaRhea, message);
  time(encodeMessage, message);
  const rheaNs: number[] = [];
  const directNs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rheaNs.push(time(viaRhea, message));
    directNs.push(time(encodeMessage, message));
  }
  const rheaMedian = Math.round(median(rheaNs));
  const directMedian = Math.round(median(directNs));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'amqp-encode',
      shape,
      messages: MESSAGES,
      rounds: ROUNDS,
      rheaNsPerMessage: rheaMedian,
      encodeMessageNsPerMessage: directMedian,
      speedup: Math.round((rheaMedian / directMedian) * 100) / 100,
    })}\n`,
  );
}

// Message decoding for a received transfer: rhea's decoder then `fromRhea` (what Receiver did before) beside
// `decodeMessage` (the direct decoder), same process, alternating rounds. One JSON line per message shape:
// median ns per message of both and their ratio.
import * as rheaNamespace from 'rhea';
import { type AmqpMessage, binaryMessage, fromRhea, type RheaMessage, valueMessage } from '../src/index';
import { decodeMessage, encodeMessage } from '../src/message';

type Rhea = typeof rheaNamespace;
const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);

/** QoS as the enmasse dialect writes it: an AMQP int. */
const qos = rhea.types.wrap_int(1) as unknown as number;

const SHAPES: Record<string, AmqpMessage> = {
  // An AMQP_PUBLISH of a QoS 1 PUBLISH of 64 bytes, as the bridge and the backend send it.
  'bridge-publish': binaryMessage(Buffer.alloc(64, 0x61), {
    header: { durable: true, deliveryCount: 0 },
    properties: { messageId: 17, to: 'bench/abcdef' },
    messageAnnotations: { 'x-opt-retain-message': false, 'x-opt-mqtt-qos': qos },
  }),
  'with-application-properties': binaryMessage(Buffer.alloc(64, 0x61), {
    header: { durable: true },
    properties: { to: 'bench/abcdef', messageId: 17, contentType: 'text/plain' },
    applicationProperties: { device: 'sensor-17', seq: 123_456, ok: true },
  }),
  'amqp-value-string': valueMessage('a text message body of some length', { properties: { to: 'q' } }),
};

function time(decode: (bytes: Buffer) => AmqpMessage, bytes: Buffer): number {
  const startedAt = process.hrtime.bigint();
  let seen = 0;
  for (let i = 0; i < MESSAGES; i++) if (decode(bytes).body !== undefined) seen++;
  if (seen === 0) throw new Error('nothing decoded');
  return Number(process.hrtime.bigint() - startedAt) / MESSAGES;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const viaRhea = (bytes: Buffer): AmqpMessage =>
  fromRhea(rhea.message.decode(bytes) as unknown as RheaMessage);

for (const [shape, message] of Object.entries(SHAPES)) {
  const bytes = encodeMessage(message);
  time(viaRhea, bytes);
  time(decodeMessage, bytes);
  const rheaNs: number[] = [];
  const directNs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rheaNs.push(time(viaRhea, bytes));
    directNs.push(time(decodeMessage, bytes));
  }
  const rheaMedian = Math.round(median(rheaNs));
  const directMedian = Math.round(median(directNs));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'amqp-decode',
      shape,
      messages: MESSAGES,
      rounds: ROUNDS,
      rheaNsPerMessage: rheaMedian,
      decodeMessageNsPerMessage: directMedian,
      speedup: Math.round((rheaMedian / directMedian) * 100) / 100,
    })}\n`,
  );
}

/**
 * Codec throughput: our MqttDecoder / encodePacket beside mqtt-packet's parser / generate used
 * directly, measured in the same process, interleaved round by round. PUBLISH QoS 0 and QoS 1 with
 * 64 B and 1 KiB payloads, MQTT 3.1.1 and 5.0; PUBACK decoding. Decoding is fed 64 KiB chunks (what a socket delivers);
 * both decoders produce one packet object per PUBLISH. Encoding produces one Buffer per packet.
 *
 * Prints one JSON object per line: per implementation packets/s and MB/s (medians of ROUNDS rounds),
 * and `ratio` = ours / mqtt-packet (>= 1 means we are not slower).
 */

import { encodePacket, MqttDecoder, type ProtocolVersion, type PublishPacket } from '@dragoman/mqtt';
import mqttPacket from 'mqtt-packet';

const ROUNDS = 9;
const ROUND_MS = 150;
const CHUNK = 64 * 1024;

interface Result {
  packetsPerSec: number;
  mbPerSec: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `work` (which processes `packets` packets of `bytes` bytes) repeatedly for ROUND_MS; returns packets/s. */
function round(work: () => number, packets: number): number {
  const start = process.hrtime.bigint();
  let done = 0;
  let elapsed = 0n;
  const budget = BigInt(ROUND_MS) * 1_000_000n;
  while (elapsed < budget) {
    done += work();
    elapsed = process.hrtime.bigint() - start;
  }
  return (done * packets * 1e9) / Number(elapsed);
}

function compare(
  op: 'decode' | 'encode',
  name: string,
  version: ProtocolVersion,
  bytesPerPacket: number,
  packets: number,
  ours: () => number,
  theirs: () => number,
): void {
  // Warm-up (JIT) for both.
  round(ours, packets);
  round(theirs, packets);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    globalThis.gc?.();
    a.push(round(ours, packets));
    globalThis.gc?.();
    b.push(round(theirs, packets));
  }
  const toResult = (rate: number): Result => ({
    packetsPerSec: Math.round(rate),
    mbPerSec: Math.round(((rate * bytesPerPacket) / 1e6) * 10) / 10,
  });
  const dragoman = toResult(median(a));
  const mqttPacketResult = toResult(median(b));
  console.log(
    JSON.stringify({
      bench: 'mqtt-codec',
      op,
      case: name,
      protocolVersion: version,
      packetBytes: bytesPerPacket,
      dragoman,
      mqttPacket: mqttPacketResult,
      ratio: Math.round((dragoman.packetsPerSec / mqttPacketResult.packetsPerSec) * 100) / 100,
    }),
  );
}

function chunks(buffer: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < buffer.length; pos += CHUNK) out.push(buffer.subarray(pos, pos + CHUNK));
  return out;
}

for (const version of [4, 5] as const) {
  for (const qos of [0, 1] as const) {
    for (const size of [64, 1024]) {
      const name = `publish-qos${qos}-${size === 64 ? '64B' : '1KiB'}`;
      const packet: PublishPacket = {
        cmd: 'publish',
        topic: 'devices/sensor-0042/telemetry',
        payload: Buffer.alloc(size, 0x61),
        qos,
        retain: false,
        dup: false,
        ...(qos > 0 ? { messageId: 4242 } : {}),
      };
      const one = encodePacket(packet, version);
      const count = Math.max(1000, Math.floor((4 * 1024 * 1024) / one.length));
      const stream = chunks(Buffer.concat(Array.from({ length: count }, () => one)));

      let sink = 0;
      compare(
        'decode',
        name,
        version,
        one.length,
        count,
        () => {
          const decoder = new MqttDecoder({ protocolVersion: version });
          let n = 0;
          for (const chunk of stream) {
            decoder.push(chunk);
            for (let p = decoder.next(); p !== undefined; p = decoder.next()) n++;
          }
          if (n !== count) throw new Error(`decoded ${n} of ${count}`);
          return 1;
        },
        () => {
          const parser = mqttPacket.parser({ protocolVersion: version });
          let n = 0;
          parser.on('packet', () => {
            n++;
          });
          for (const chunk of stream) parser.parse(chunk);
          if (n !== count) throw new Error(`mqtt-packet decoded ${n} of ${count}`);
          return 1;
        },
      );

      const ENCODE_BATCH = 1000;
      const asMqttPacket = packet as unknown as mqttPacket.Packet;
      const opts = { protocolVersion: version };
      compare(
        'encode',
        name,
        version,
        one.length,
        ENCODE_BATCH,
        () => {
          for (let i = 0; i < ENCODE_BATCH; i++) sink += encodePacket(packet, version).length;
          return 1;
        },
        () => {
          for (let i = 0; i < ENCODE_BATCH; i++) sink += mqttPacket.generate(asMqttPacket, opts).length;
          return 1;
        },
      );
      if (sink < 0) throw new Error('unreachable: keeps the encoded bytes alive');
    }
  }
}

// PUBACK: what every outbound QoS 1 message brings back.
for (const version of [4, 5] as const) {
  const one = encodePacket(
    { cmd: 'puback', messageId: 4242, ...(version === 5 ? { reasonCode: 0 } : {}) },
    version,
  );
  const count = 200_000;
  const stream = chunks(Buffer.concat(Array.from({ length: count }, () => one)));
  compare(
    'decode',
    'puback',
    version,
    one.length,
    count,
    () => {
      const decoder = new MqttDecoder({ protocolVersion: version });
      let n = 0;
      for (const chunk of stream) {
        decoder.push(chunk);
        for (let p = decoder.next(); p !== undefined; p = decoder.next()) n++;
      }
      if (n !== count) throw new Error(`decoded ${n} of ${count}`);
      return 1;
    },
    () => {
      const parser = mqttPacket.parser({ protocolVersion: version });
      let n = 0;
      parser.on('packet', () => {
        n++;
      });
      for (const chunk of stream) parser.parse(chunk);
      if (n !== count) throw new Error(`mqtt-packet decoded ${n} of ${count}`);
      return 1;
    },
  );
}

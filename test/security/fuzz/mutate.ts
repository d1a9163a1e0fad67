/**
 * Mutations of a valid packet sequence: bit flips, truncation, length-field corruption, splicing, duplication,
 * random bytes. Each case applies one to three of them, so most inputs stay close to valid MQTT and reach deep
 * into the endpoint rather than dying at the first byte.
 */
import type { Random } from './prng';

export type Mutation = 'bit-flip' | 'truncate' | 'length' | 'splice' | 'duplicate' | 'random' | 'none';

const MUTATIONS: readonly Mutation[] = ['bit-flip', 'truncate', 'length', 'splice', 'duplicate', 'random'];

function flipBits(random: Random, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const flips = random.range(1, 4);
  for (let i = 0; i < flips && out.length > 0; i++) {
    const at = random.int(out.length);
    out[at] = (out[at] ?? 0) ^ (1 << random.int(8));
  }
  return out;
}

/** Rewrites the remaining-length field of one packet: too short, too long, or a malformed 5-byte varint. */
function corruptLength(random: Random, packets: Buffer[]): Buffer[] {
  const index = random.int(packets.length);
  const packet = packets[index];
  if (packet === undefined || packet.length < 2) return packets;
  const out = Buffer.from(packet);
  switch (random.int(4)) {
    case 0:
      out[1] = random.int(256);
      break;
    case 1:
      out[1] = 0xff; // continuation bit on every byte that follows
      if (out.length > 2) out[2] = 0xff;
      if (out.length > 3) out[3] = 0xff;
      if (out.length > 4) out[4] = 0xff;
      break;
    case 2:
      out[1] = Math.max(0, (out[1] ?? 0) - random.range(1, 3));
      break;
    default: {
      // A huge declared length (up to 256 MiB) with nothing behind it: must be refused from the header.
      const huge = Buffer.from([out[0] ?? 0x30, 0xff, 0xff, 0xff, 0x7f]);
      return [...packets.slice(0, index), huge, ...packets.slice(index + 1)];
    }
  }
  return [...packets.slice(0, index), out, ...packets.slice(index + 1)];
}

function applyOne(random: Random, mutation: Mutation, packets: Buffer[], donor: Buffer[]): Buffer[] {
  switch (mutation) {
    case 'bit-flip': {
      const index = random.int(packets.length);
      return packets.map((p, i) => (i === index ? flipBits(random, p) : p));
    }
    case 'truncate': {
      const whole = Buffer.concat(packets);
      return [whole.subarray(0, random.int(whole.length + 1))];
    }
    case 'length':
      return corruptLength(random, packets);
    case 'splice': {
      const whole = Buffer.concat(packets);
      const other = Buffer.concat(donor);
      const cut = random.int(whole.length + 1);
      const from = random.int(other.length + 1);
      return [whole.subarray(0, cut), other.subarray(from, from + random.int(64)), whole.subarray(cut)];
    }
    case 'duplicate': {
      const index = random.int(packets.length);
      const packet = packets[index];
      if (packet === undefined) return packets;
      const copies = Array.from({ length: random.range(1, 4) }, () => packet);
      return [...packets.slice(0, index + 1), ...copies, ...packets.slice(index + 1)];
    }
    case 'random':
      return random.chance(0.5)
        ? [random.bytes(random.int(256))]
        : [...packets.slice(0, random.int(packets.length + 1)), random.bytes(random.int(64))];
    default:
      return packets;
  }
}

export interface MutatedInput {
  readonly bytes: Buffer;
  readonly mutations: readonly Mutation[];
}

/** Mutates `packets` (a donor sequence supplies splice material); 10% of cases stay valid. */
export function mutate(random: Random, packets: Buffer[], donor: Buffer[]): MutatedInput {
  if (random.chance(0.1)) return { bytes: Buffer.concat(packets), mutations: ['none'] };
  const mutations: Mutation[] = [];
  let current = packets;
  const rounds = random.range(1, 3);
  for (let i = 0; i < rounds; i++) {
    const mutation = random.pick(MUTATIONS);
    mutations.push(mutation);
    current = applyOne(random, mutation, current, donor);
  }
  return { bytes: Buffer.concat(current), mutations };
}

/** Splits `bytes` into 1..8 chunks at random points, so the decoder sees packets cut everywhere. */
export function chunk(random: Random, bytes: Buffer): Buffer[] {
  const cuts = new Set<number>();
  const count = random.int(8);
  for (let i = 0; i < count; i++) cuts.add(random.int(bytes.length + 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1] ?? 0;
    const to = points[i] ?? bytes.length;
    if (to > from) chunks.push(bytes.subarray(from, to));
  }
  return chunks;
}

/**
 * Streaming MQTT decoder: bytes in any chunking -> typed packets.
 *
 * It holds at most the current input chunk plus one incomplete packet. The maximum packet size is
 * checked from the fixed header, before any of the body is buffered. PUBLISH, PUBACK / PUBREC /
 * PUBREL / PUBCOMP, PINGREQ and a 3.1.1 DISCONNECT are decoded by hand; every other packet by mqtt-packet
 * (one complete packet at a time).
 */
import { decodeAck, isAckType } from './ack-fast-path';
import { MqttProtocolError } from './errors';
import { FallbackParser } from './fallback-codec';
import { decodePublish } from './publish-fast-path';
import { ReasonCode } from './reason-codes';
import type { DecoderOptions, MqttPacket, ProtocolVersion } from './types';

/** 1 MiB: generous for telemetry and commands, small enough that one buffered packet per connection stays cheap. */
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;
/** The largest packet MQTT can express: 268 435 455 bytes of body plus a 5-byte fixed header. */
export const MQTT_MAX_PACKET_SIZE = 268_435_460;

const EMPTY = Buffer.alloc(0);
/** The longest topic the decoder remembers for the next PUBLISH. */
const MAX_REMEMBERED_TOPIC = 256;

const TYPE_CONNECT = 1;
const TYPE_PUBLISH = 3;
const TYPE_PINGREQ = 12;
const TYPE_DISCONNECT = 14;
const TYPE_AUTH = 15;

/** Required flag bits (low nibble of byte 1) per packet type; -1: PUBLISH (flags carry dup/qos/retain). */
const REQUIRED_FLAGS = [-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0] as const;
const TYPE_NAMES = [
  'reserved',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
] as const;

function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(`malformed packet: ${message}`, ReasonCode.MalformedPacket);
}

export class MqttDecoder {
  /** The protocol version in use; fixed by the first CONNECT when not given in the options. */
  protocolVersion: ProtocolVersion | undefined;
  private maxSize: number;

  private buf: Buffer = EMPTY;
  private pos = 0;
  /** The packet being assembled across chunks, allocated at its exact size once the header is known. */
  private partial: Buffer | undefined;
  private partialFilled = 0;
  private partialBodyStart = 0;
  private failed: MqttProtocolError | undefined;
  /** The topic of the last PUBLISH decoded, given to the next (which often has the same). */
  private lastTopic = '';

  constructor(options: DecoderOptions = {}) {
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2)
      throw new RangeError(`maxPacketSize must be an integer >= 2, got ${max}`);
    this.maxSize = Math.min(max, MQTT_MAX_PACKET_SIZE);
    this.protocolVersion = options.protocolVersion;
  }

  /** The largest packet accepted, in bytes. May be changed between packets (e.g. once CONNACK announced it). */
  get maxPacketSize(): number {
    return this.maxSize;
  }

  set maxPacketSize(max: number) {
    if (!Number.isInteger(max) || max < 2)
      throw new RangeError(`maxPacketSize must be an integer >= 2, got ${max}`);
    this.maxSize = Math.min(max, MQTT_MAX_PACKET_SIZE);
  }

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + (this.partial === undefined ? 0 : this.partialFilled);
  }

  /** Adds received bytes. Call next() until it returns undefined before pushing more, to keep memory bounded. */
  push(chunk: Buffer): void {
    if (this.failed !== undefined) return;
    if (this.partial !== undefined && this.partialFilled < this.partial.length) {
      const n = chunk.copy(this.partial, this.partialFilled);
      this.partialFilled += n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      // Only the unread tail (a partial fixed header, or packets not yet pulled) is copied.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /**
   * The next complete packet, or undefined when more bytes are needed.
   * Throws MqttProtocolError for malformed input; the decoder then stays failed.
   */
  next(): MqttPacket | undefined {
    if (this.failed !== undefined) throw this.failed;
    try {
      return this.nextPacket();
    } catch (error) {
      this.failed =
        error instanceof MqttProtocolError
          ? error
          : malformed(error instanceof Error ? error.message : String(error));
      this.buf = EMPTY;
      this.partial = undefined;
      throw this.failed;
    }
  }

  /** Convenience: pushes `chunk` and returns every packet now complete. */
  decode(chunk: Buffer): MqttPacket[] {
    this.push(chunk);
    const packets: MqttPacket[] = [];
    for (let p = this.next(); p !== undefined; p = this.next()) packets.push(p);
    return packets;
  }

  private nextPacket(): MqttPacket | undefined {
    const partial = this.partial;
    if (partial !== undefined) {
      if (this.partialFilled < partial.length) return undefined;
      this.partial = undefined;
      return this.decodeWhole(partial, 0, this.partialBodyStart, partial.length);
    }
    const buf = this.buf;
    const start = this.pos;
    const available = buf.length - start;
    if (available === 0) {
      // All read: let the chunk go, or an idle connection keeps its last one (and its memory) until more comes.
      this.buf = EMPTY;
      this.pos = 0;
      return undefined;
    }
    const first = buf[start]!;
    this.checkFirstByte(first);
    // Remaining length: variable byte integer of at most 4 bytes.
    let remaining = 0;
    let multiplier = 1;
    let i = 1;
    for (;;) {
      if (i >= available) return undefined;
      const b = buf[start + i]!;
      remaining += (b & 0x7f) * multiplier;
      i++;
      if ((b & 0x80) === 0) break;
      if (i === 5) throw malformed('remaining length longer than 4 bytes');
      multiplier *= 128;
    }
    const total = i + remaining;
    if (total > this.maxPacketSize) {
      throw new MqttProtocolError(
        `packet too large: ${total} bytes, maximum ${this.maxPacketSize}`,
        ReasonCode.PacketTooLarge,
      );
    }
    if (available >= total) {
      this.pos = start + total;
      return this.decodeWhole(buf, start, start + i, start + total);
    }
    // Incomplete: copy what we have into a buffer of the exact size and let push() fill it.
    const assembled = Buffer.allocUnsafe(total);
    buf.copy(assembled, 0, start);
    this.partial = assembled;
    this.partialFilled = available;
    this.partialBodyStart = i;
    this.buf = EMPTY;
    this.pos = 0;
    return undefined;
  }

  private checkFirstByte(first: number): void {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (type === 0) throw malformed('reserved packet type 0');
    if (type === TYPE_AUTH && this.protocolVersion !== undefined && this.protocolVersion !== 5) {
      throw malformed('AUTH is an MQTT 5 packet');
    }
    if (this.protocolVersion === undefined && type !== TYPE_CONNECT) {
      throw new MqttProtocolError(`${TYPE_NAMES[type]} before CONNECT`, ReasonCode.ProtocolError);
    }
    if (type === TYPE_PUBLISH) {
      const qos = (flags >> 1) & 0x03;
      if (qos === 3) throw malformed('PUBLISH with QoS 3');
      if (qos === 0 && (flags & 0x08) !== 0) throw malformed('PUBLISH QoS 0 with DUP set');
    } else if (flags !== REQUIRED_FLAGS[type]) {
      throw malformed(`${TYPE_NAMES[type]} with reserved flags 0x${flags.toString(16)}`);
    }
  }

  private decodeWhole(buf: Buffer, start: number, bodyStart: number, end: number): MqttPacket {
    const type = buf[start]! >> 4;
    const version = this.protocolVersion;
    if (version !== undefined) {
      if (type === TYPE_PUBLISH) {
        const publish = decodePublish(buf, start, bodyStart, end, version, this.lastTopic);
        // A long topic is not kept: an idle connection would hold it.
        this.lastTopic = publish.topic.length <= MAX_REMEMBERED_TOPIC ? publish.topic : '';
        return publish;
      }
      if (isAckType(type)) return decodeAck(buf, type, bodyStart, end, version);
      // A keep-alive's PINGREQ, and a 3.1.1 DISCONNECT, are their fixed header alone.
      if (type === TYPE_PINGREQ && end === bodyStart) return { cmd: 'pingreq' };
      if (type === TYPE_DISCONNECT && version !== 5 && end === bodyStart) return { cmd: 'disconnect' };
    }
    // A parser for each of the rare other packets (CONNECT, SUBSCRIBE, …): an idle connection keeps none.
    const whole = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const packet = new FallbackParser().parse(whole, version ?? 4);
    if (packet.cmd === 'connect' && this.protocolVersion === undefined) {
      this.protocolVersion = packet.protocolVersion;
    }
    return packet;
  }
}

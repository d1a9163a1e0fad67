/**
 * The mqtt-packet side of the codec: every packet but PUBLISH is decoded and encoded by mqtt-packet.
 * The decoder hands this module exactly one complete packet at a time, so mqtt-packet's parser never
 * buffers and never reads past the packet. Its loose output is normalised into our packet types and
 * checked for what it does not check itself (ill-formed UTF-8, will QoS 3, fixed lengths).
 */
import { isUtf8 } from 'node:buffer';
import mqttPacket from 'mqtt-packet';
import { MqttProtocolError } from './errors';
import { ConnackReturnCode, ReasonCode } from './reason-codes';
import type { MqttPacket, ProtocolVersion, QoS } from './types';

/** The parts of mqtt-packet's parser instance this module relies on (mqtt-packet 9). */
interface ParserInternals {
  settings: { protocolVersion?: number };
  parse(buf: Buffer): number;
  on(event: 'packet', listener: (packet: Record<string, unknown>) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
  _parseString(): string | null;
}

/** A string decoded by mqtt-packet may hide ill-formed UTF-8 (replaced by U+FFFD) or U+0000. */
function suspicious(s: string): boolean {
  return s.includes('\uFFFD') || s.includes('\u0000');
}

export class FallbackParser {
  private readonly parser: ParserInternals;
  private packet: Record<string, unknown> | undefined;
  private error: Error | undefined;
  private badString: string | undefined;

  constructor() {
    this.parser = mqttPacket.parser({ protocolVersion: 4 }) as unknown as ParserInternals;
    this.parser.on('packet', (packet) => {
      this.packet = packet;
    });
    this.parser.on('error', (error) => {
      this.error ??= error;
    });
    // Wrap the string reader to validate the raw bytes behind any suspicious result.
    const parser = this.parser;
    const readString = parser._parseString;
    if (typeof readString !== 'function' || typeof parser._list?.slice !== 'function') {
      // Fail loudly at start-up rather than let ill-formed UTF-8 through silently.
      throw new Error('unsupported mqtt-packet version: parser internals changed (needs mqtt-packet 9)');
    }
    parser._parseString = () => {
      const start = parser._pos;
      const result = readString.call(parser);
      if (result !== null && suspicious(result)) {
        const raw = parser._list.slice(start + 2, parser._pos);
        if (!isUtf8(raw)) this.badString ??= 'a string is not valid UTF-8';
        else if (raw.includes(0)) this.badString ??= 'a string contains U+0000';
      }
      return result;
    };
  }

  /** Decodes one complete packet (fixed header included). Throws MqttProtocolError. */
  parse(whole: Buffer, version: ProtocolVersion): MqttPacket {
    this.packet = undefined;
    this.error = undefined;
    this.badString = undefined;
    this.parser.settings = { protocolVersion: version };
    this.parser.parse(whole);
    const { packet, error } = this;
    this.packet = undefined;
    if (error !== undefined) throw translateError(error);
    if (packet === undefined)
      throw new MqttProtocolError('malformed packet: truncated', ReasonCode.MalformedPacket);
    if (this.badString !== undefined) {
      throw new MqttProtocolError(`malformed packet: ${this.badString}`, ReasonCode.MalformedPacket);
    }
    return normalize(packet, version);
  }
}

function translateError(error: Error): MqttProtocolError {
  const message = error.message;
  if (message === 'Invalid protocol version' || message === 'Invalid protocolId') {
    return new MqttProtocolError(`CONNECT: ${message}`, ReasonCode.UnsupportedProtocolVersion, {
      connackReturnCode: ConnackReturnCode.UnacceptableProtocolVersion,
      cause: error,
    });
  }
  return new MqttProtocolError(`malformed packet: ${message}`, ReasonCode.MalformedPacket, { cause: error });
}

function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(`malformed packet: ${message}`, ReasonCode.MalformedPacket);
}

/** Copies the optional fields that are present. */
function pick<T extends object>(target: T, source: Record<string, unknown>, keys: readonly string[]): T {
  for (const key of keys) {
    const value = source[key];
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function normalize(p: Record<string, unknown>, version: ProtocolVersion): MqttPacket {
  const v5 = version === 5;
  switch (p.cmd) {
    case 'connect': {
      const will = p.will as Record<string, unknown> | undefined;
      const protocolVersion = p.protocolVersion as ProtocolVersion;
      if (will !== undefined && num(will.qos) > 2) throw malformed('CONNECT will QoS 3');
      if (protocolVersion !== 5 && p.password !== undefined && p.username === undefined) {
        throw malformed('CONNECT password flag without user name flag');
      }
      const out = pick(
        {
          cmd: 'connect' as const,
          protocolId: p.protocolId as 'MQTT' | 'MQIsdp',
          protocolVersion,
          clean: p.clean === true,
          keepalive: num(p.keepalive),
          clientId: p.clientId as string,
        },
        p,
        ['username', 'password', 'properties'],
      );
      if (will !== undefined) {
        return {
          ...out,
          will: pick(
            {
              topic: will.topic as string,
              payload: will.payload as Buffer,
              qos: num(will.qos) as QoS,
              retain: will.retain === true,
            },
            will,
            ['properties'],
          ),
        };
      }
      return out;
    }
    case 'connack':
      return pick(
        { cmd: 'connack', sessionPresent: p.sessionPresent === true },
        p,
        v5 ? ['reasonCode', 'properties'] : ['returnCode'],
      );
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      if (!v5 && p.length !== 2) throw malformed(`${p.cmd} remaining length must be 2`);
      return pick({ cmd: p.cmd, messageId: num(p.messageId) }, p, v5 ? ['reasonCode', 'properties'] : []);
    }
    case 'subscribe': {
      const subscriptions = p.subscriptions as Record<string, unknown>[];
      return pick(
        {
          cmd: 'subscribe',
          messageId: num(p.messageId),
          subscriptions: subscriptions.map((s) =>
            v5
              ? {
                  topic: s.topic as string,
                  qos: num(s.qos) as QoS,
                  nl: s.nl === true,
                  rap: s.rap === true,
                  rh: num(s.rh),
                }
              : { topic: s.topic as string, qos: num(s.qos) as QoS },
          ),
        },
        p,
        ['properties'],
      );
    }
    case 'suback':
      return pick({ cmd: 'suback', messageId: num(p.messageId), granted: p.granted as number[] }, p, [
        'properties',
      ]);
    case 'unsubscribe':
      return pick(
        { cmd: 'unsubscribe', messageId: num(p.messageId), unsubscriptions: p.unsubscriptions as string[] },
        p,
        ['properties'],
      );
    case 'unsuback':
      return pick({ cmd: 'unsuback', messageId: num(p.messageId) }, p, v5 ? ['granted', 'properties'] : []);
    case 'pingreq':
    case 'pingresp':
      if (p.length !== 0) throw malformed(`${p.cmd} remaining length must be 0`);
      return { cmd: p.cmd };
    case 'disconnect':
      if (!v5 && p.length !== 0) throw malformed('DISCONNECT remaining length must be 0');
      return pick({ cmd: 'disconnect' }, p, v5 ? ['reasonCode', 'properties'] : []);
    case 'auth':
      return pick({ cmd: 'auth', reasonCode: num(p.reasonCode) }, p, ['properties']);
    default:
      throw malformed(`unexpected packet ${String(p.cmd)}`);
  }
}

/**
 * Encodes any packet with mqtt-packet's generate. Throws RangeError for a packet it cannot encode.
 *
 * mqtt-packet's first write would build a cache of 65,536 two-byte Buffers (one per packet identifier): about
 * 7 MB kept for the life of the process and walked by every full garbage collection, to save a 2-byte
 * allocation per packet. It is switched off (mqtt-packet's documented `writeToStream.cacheNumbers`) before
 * our first packet; this is process-wide, and changes no byte anyone writes.
 */
export function generateWithMqttPacket(packet: MqttPacket, version: ProtocolVersion): Buffer {
  if (mqttPacket.writeToStream.cacheNumbers) mqttPacket.writeToStream.cacheNumbers = false;
  try {
    return mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: version });
  } catch (error) {
    throw new RangeError(`cannot encode ${packet.cmd}: ${(error as Error).message}`, { cause: error });
  }
}

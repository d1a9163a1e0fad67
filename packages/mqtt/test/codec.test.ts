/**
 * Codec properties: round trips for every packet type and version, byte equality with mqtt-packet,
 * any chunking, the packet-size limit, fuzzed input, and the PUBLISH fast path against mqtt-packet.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it, vi } from 'vitest';
import {
  encodePacket,
  MqttDecoder,
  type MqttPacket,
  MqttProtocolError,
  MqttWriter,
  type ProtocolVersion,
  type PublishPacket,
} from '../src/index';
import { packet, publish } from './support/arbitraries';

const RUNS = 300;

function decodeOne(bytes: Buffer, version: ProtocolVersion): MqttPacket[] {
  return new MqttDecoder({ protocolVersion: version, maxPacketSize: 1 << 24 }).decode(bytes);
}

describe.each([3, 4, 5] as const)('protocol version %i', (version) => {
  it('encode -> decode gives back every packet type, in the bytes mqtt-packet generates', () => {
    fc.assert(
      fc.property(packet(version), (p) => {
        const bytes = encodePacket(p, version);
        expect(
          bytes.equals(mqttPacket.generate(p as unknown as mqttPacket.Packet, { protocolVersion: version })),
        ).toBe(true);
        expect(decodeOne(bytes, version)).toEqual([p]);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('decodes a stream in any chunking, including one byte at a time', () => {
    const stream = fc.array(
      packet(version).filter((p) => p.cmd !== 'connect'),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (packets, cuts) => {
          const bytes = Buffer.concat(packets.map((p) => encodePacket(p, version)));
          const decoder = new MqttDecoder({ protocolVersion: version });
          const out: MqttPacket[] = [];
          let pos = 0;
          let i = 0;
          while (pos < bytes.length) {
            const size = cuts[i++ % cuts.length]!;
            out.push(...decoder.decode(bytes.subarray(pos, pos + size)));
            pos += size;
          }
          expect(out).toEqual(packets);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
    // Byte by byte.
    const packets = fc.sample(
      packet(version).filter((p) => p.cmd !== 'connect'),
      { numRuns: 50, seed: 7 },
    );
    const bytes = Buffer.concat(packets.map((p) => encodePacket(p, version)));
    const decoder = new MqttDecoder({ protocolVersion: version });
    const out: MqttPacket[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...decoder.decode(bytes.subarray(i, i + 1)));
    expect(out).toEqual(packets);
  });
});

describe('MqttDecoder', () => {
  it('fixes the protocol version from CONNECT', () => {
    const decoder = new MqttDecoder();
    const connect = encodePacket(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 10, clientId: 'x' },
      5,
    );
    const pub: PublishPacket = {
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('p'),
      qos: 1,
      retain: false,
      dup: false,
      messageId: 3,
      properties: { contentType: 'c' },
    };
    expect(decoder.decode(Buffer.concat([connect, encodePacket(pub, 5)]))).toMatchObject([
      { cmd: 'connect', protocolVersion: 5 },
      pub,
    ]);
    expect(decoder.protocolVersion).toBe(5);
  });

  it('rejects a packet above maxPacketSize from the fixed header, before the body arrives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 4096 }), fc.integer({ min: 1, max: 1 << 20 }), (max, excess) => {
        const decoder = new MqttDecoder({ protocolVersion: 4, maxPacketSize: max });
        const remaining = max + excess;
        const header = [0x30];
        let n = remaining;
        do {
          header.push((n % 128) | (n >= 128 ? 0x80 : 0));
          n = Math.floor(n / 128);
        } while (n > 0);
        let error: unknown;
        try {
          decoder.decode(Buffer.from(header));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(MqttProtocolError);
        expect((error as MqttProtocolError).reasonCode).toBe(0x95);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('accepts a packet of exactly maxPacketSize', () => {
    const p: PublishPacket = {
      cmd: 'publish',
      topic: 'a',
      payload: Buffer.alloc(95),
      qos: 0,
      retain: false,
      dup: false,
    };
    const bytes = encodePacket(p, 4);
    expect(bytes.length).toBe(100);
    expect(new MqttDecoder({ protocolVersion: 4, maxPacketSize: 100 }).decode(bytes)).toEqual([p]);
    expect(() => new MqttDecoder({ protocolVersion: 4, maxPacketSize: 99 }).decode(bytes)).toThrow(
      MqttProtocolError,
    );
  });

  it('turns any byte sequence into packets or an MqttProtocolError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ProtocolVersion>(4, 5),
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.constantFrom(...[0x10, 0x30, 0x32, 0x62, 0x82, 0xe0, 0xf0].map((b) => new Uint8Array([b]))),
          ),
          {
            maxLength: 20,
          },
        ),
        (version, parts) => {
          const decoder = new MqttDecoder({ protocolVersion: version, maxPacketSize: 4096 });
          try {
            for (const part of parts) decoder.decode(Buffer.from(part));
          } catch (error) {
            expect(error).toBeInstanceOf(MqttProtocolError);
            expect((error as MqttProtocolError).reasonCode).toBeGreaterThanOrEqual(0x80);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('turns mutated valid packets into packets or an MqttProtocolError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ProtocolVersion>(4, 5),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (version, seed, mutations) => {
          const [p] = fc.sample(packet(version), { numRuns: 1, seed });
          const bytes = Buffer.from(encodePacket(p!, version));
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          const decoder = new MqttDecoder({ protocolVersion: version, maxPacketSize: 1 << 16 });
          try {
            decoder.decode(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(MqttProtocolError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('keeps every value of a repeated user property in PUBLISH, empty ones included', () => {
    const p: PublishPacket = {
      cmd: 'publish',
      topic: 't',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: { k: ['', 'x', ''] } },
    };
    expect(decodeOne(encodePacket(p, 5), 5)).toEqual([p]);
  });

  it('stays failed after an error', () => {
    const decoder = new MqttDecoder({ protocolVersion: 4 });
    expect(() => decoder.decode(Buffer.from([0x00, 0x00]))).toThrow(MqttProtocolError);
    expect(() => decoder.decode(encodePacket({ cmd: 'pingreq' }, 4))).toThrow(MqttProtocolError);
  });
});

describe('PUBLISH fast path against mqtt-packet', () => {
  /** mqtt-packet's parser used directly, its output normalised to our shape. */
  function parseWithMqttPacket(bytes: Buffer, version: ProtocolVersion): PublishPacket {
    const parser = mqttPacket.parser({ protocolVersion: version });
    let out: Record<string, unknown> | undefined;
    parser.on('packet', (p) => {
      out = p as unknown as Record<string, unknown>;
    });
    parser.on('error', (e) => {
      throw e;
    });
    parser.parse(bytes);
    if (out === undefined) throw new Error('mqtt-packet produced no packet');
    const normalised: Record<string, unknown> = {
      cmd: 'publish',
      topic: out.topic,
      payload: out.payload,
      qos: out.qos,
      retain: out.retain,
      dup: out.dup,
    };
    if (out.messageId !== undefined) normalised.messageId = out.messageId;
    if (out.properties !== undefined) normalised.properties = out.properties;
    return normalised as unknown as PublishPacket;
  }

  it.each([3, 4, 5] as const)(
    'decodes what mqtt-packet generates exactly as mqtt-packet parses it (version %i)',
    (version) => {
      fc.assert(
        fc.property(publish(version), (p) => {
          const bytes = mqttPacket.generate(p as unknown as mqttPacket.Packet, { protocolVersion: version });
          const ours = new MqttDecoder({ protocolVersion: version }).decode(bytes);
          expect(ours).toEqual([parseWithMqttPacket(bytes, version)]);
          expect(ours).toEqual([p]);
        }),
        { numRuns: RUNS * 3 },
      );
    },
  );
});

describe('acknowledgement fast path against mqtt-packet', () => {
  const acks = new Set(['puback', 'pubrec', 'pubrel', 'pubcomp']);

  it.each([3, 4, 5] as const)(
    'decodes PUBACK/PUBREC/PUBREL/PUBCOMP as mqtt-packet does (version %i)',
    (version) => {
      fc.assert(
        fc.property(
          packet(version).filter((p) => acks.has(p.cmd)),
          (p) => {
            const bytes = mqttPacket.generate(p as unknown as mqttPacket.Packet, {
              protocolVersion: version,
            });
            const parser = mqttPacket.parser({ protocolVersion: version });
            let theirs: Record<string, unknown> | undefined;
            parser.on('packet', (q) => {
              theirs = q as unknown as Record<string, unknown>;
            });
            parser.parse(bytes);
            const expected: Record<string, unknown> = { cmd: theirs?.cmd, messageId: theirs?.messageId };
            if (version === 5) expected.reasonCode = theirs?.reasonCode;
            if (theirs?.properties !== undefined) expected.properties = theirs.properties;
            expect(new MqttDecoder({ protocolVersion: version }).decode(bytes)).toEqual([expected]);
          },
        ),
        { numRuns: RUNS },
      );
    },
  );

  it.each([3, 4, 5] as const)(
    'encodes a bare PUBACK/PUBREC/PUBREL/PUBCOMP in the 4 bytes mqtt-packet writes (version %i)',
    (version) => {
      for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
        for (const messageId of [1, 255, 256, 0xffff]) {
          const p = (version === 5 ? { cmd, messageId, reasonCode: 0 } : { cmd, messageId }) as MqttPacket;
          const ours = encodePacket(p, version);
          expect(ours.length).toBe(4);
          const theirs = mqttPacket.generate(p as unknown as mqttPacket.Packet, { protocolVersion: version });
          expect(ours.equals(theirs)).toBe(true);
          expect(decodeOne(ours, version)).toEqual([p]);
        }
      }
    },
  );

  it('rejects a reason code mqtt-packet rejects', () => {
    expect(() =>
      new MqttDecoder({ protocolVersion: 5 }).decode(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x92])),
    ).toThrow(MqttProtocolError);
  });
});

describe('MqttDecoder on a stream of PUBLISHes', () => {
  const topics = ['a/b', 'a/c', 'é/b', 'a/bb', 'x'.repeat(300), '\u00e9'];

  it('decodes each topic as it is, when it repeats the previous one or not', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...topics), { minLength: 1, maxLength: 20 }), (sequence) => {
        const packets: PublishPacket[] = sequence.map((topic, i) => ({
          cmd: 'publish',
          topic,
          payload: Buffer.from([i]),
          qos: 0,
          retain: false,
          dup: false,
        }));
        const bytes = Buffer.concat(packets.map((p) => encodePacket(p, 4)));
        expect(new MqttDecoder({ protocolVersion: 4 }).decode(bytes)).toEqual(packets);
      }),
      { numRuns: RUNS },
    );
  });

  it('gives a repeated topic the same string', () => {
    const p: PublishPacket = {
      cmd: 'publish',
      topic: 'a/b',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    };
    const [first, second] = new MqttDecoder({ protocolVersion: 4 }).decode(
      Buffer.concat([encodePacket(p, 4), encodePacket(p, 4)]),
    ) as PublishPacket[];
    expect(second!.topic).toBe(first!.topic);
    // Strings compare by value: that the second is not decoded again shows in the UTF-8 decodes made.
    const decoder = new MqttDecoder({ protocolVersion: 4 });
    const decodes = vi.spyOn(Buffer.prototype, 'toString');
    try {
      decoder.decode(encodePacket(p, 4));
      const afterFirst = decodes.mock.calls.length;
      expect(afterFirst).toBeGreaterThan(0);
      decoder.decode(encodePacket({ ...p, topic: 'a/c' }, 4));
      expect(decodes.mock.calls.length).toBe(afterFirst + 1);
      decoder.decode(encodePacket({ ...p, topic: 'a/c' }, 4));
      expect(decodes.mock.calls.length).toBe(afterFirst + 1);
    } finally {
      decodes.mockRestore();
    }
  });

  it("still refuses ill-formed UTF-8 whose bytes are the previous topic's character codes", () => {
    const decoder = new MqttDecoder({ protocolVersion: 4 });
    const p: PublishPacket = {
      cmd: 'publish',
      topic: '\u00e9',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    };
    expect(decoder.decode(encodePacket(p, 4))).toEqual([p]);
    // Topic length 1, the single byte 0xE9: ill-formed UTF-8, though it equals the char code of 'é'.
    expect(() => decoder.decode(Buffer.from([0x30, 3, 0, 1, 0xe9]))).toThrow(MqttProtocolError);
  });
});

describe('MqttWriter', () => {
  class Recorder extends Writable {
    batches: Buffer[][] = [];
    private pending: (() => void)[] = [];
    constructor(private readonly manual: boolean) {
      super({ highWaterMark: 1 << 20 });
    }
    override _writev(chunks: { chunk: Buffer }[], callback: () => void): void {
      this.batches.push(chunks.map((c) => c.chunk));
      if (this.manual) this.pending.push(callback);
      else callback();
    }
    override _write(chunk: Buffer, _enc: string, callback: () => void): void {
      this._writev([{ chunk }], callback);
    }
    flushOne(): void {
      this.pending.shift()?.();
    }
  }

  it('writes what several ticks of one turn of the event loop wrote in one write of the stream', async () => {
    const stream = new Recorder(false);
    const writer = new MqttWriter(stream, { protocolVersion: 4 });
    writer.write({ cmd: 'puback', messageId: 1 });
    await new Promise((resolve) => process.nextTick(resolve));
    writer.write({ cmd: 'puback', messageId: 2 });
    await Promise.resolve();
    writer.write({ cmd: 'puback', messageId: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.batches).toEqual([[Buffer.from([0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3])]]);
  });

  it.each([3, 4, 5] as const)(
    'writes PUBLISHes and acknowledgements in the bytes mqtt-packet generates (protocol version %i)',
    async (version) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(publish(version), packet(version)), { maxLength: 8 }),
          async (packets) => {
            const stream = new Recorder(false);
            const writer = new MqttWriter(stream, { protocolVersion: version, highWaterMark: 1 << 30 });
            for (const p of packets) writer.write(p);
            await new Promise((resolve) => setImmediate(resolve));
            const expected = packets.map((p) =>
              mqttPacket.generate(p as unknown as mqttPacket.Packet, { protocolVersion: version }),
            );
            expect(Buffer.concat(stream.batches.flat()).equals(Buffer.concat(expected))).toBe(true);
          },
        ),
        { numRuns: RUNS },
      );
    },
  );

  it('writes nothing of a packet that fails while it is being written, and the next ones intact', async () => {
    const stream = new Recorder(false);
    const writer = new MqttWriter(stream, { protocolVersion: 5 });
    writer.write({ cmd: 'puback', messageId: 1, reasonCode: 0 });
    const broken = {
      cmd: 'publish',
      topic: 't',
      payload: 'not a Buffer',
      qos: 0,
      retain: false,
      dup: false,
    } as unknown as PublishPacket;
    expect(() => writer.write(broken)).toThrow(TypeError);
    expect(() =>
      writer.write({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.alloc(1),
        qos: 0,
        retain: false,
        dup: false,
        properties: { correlationData: 'not a Buffer' as unknown as Buffer },
      }),
    ).toThrow(RangeError);
    writer.write({ cmd: 'puback', messageId: 2, reasonCode: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.batches).toEqual([[Buffer.from([0x40, 2, 0, 1, 0x40, 2, 0, 2])]]);
  });

  it('keeps writing while a test fakes timers', async () => {
    const realSetImmediate = setImmediate;
    const stream = new Recorder(false);
    const writer = new MqttWriter(stream, { protocolVersion: 4 });
    vi.useFakeTimers();
    try {
      writer.write({ cmd: 'puback', messageId: 7 });
      await new Promise((resolve) => realSetImmediate(resolve));
    } finally {
      vi.useRealTimers();
    }
    expect(stream.batches).toEqual([[Buffer.from([0x40, 2, 0, 7])]]);
  });

  it('batches the packets written in one tick into one write of the stream', async () => {
    const stream = new Recorder(false);
    const writer = new MqttWriter(stream, { protocolVersion: 4 });
    for (let i = 1; i <= 50; i++) writer.write({ cmd: 'puback', messageId: i });
    expect(stream.batches).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.batches).toHaveLength(1);
    expect(stream.batches[0]).toHaveLength(1);
    const packets = new MqttDecoder({ protocolVersion: 4 }).decode(stream.batches[0]![0]!);
    expect(packets).toEqual(Array.from({ length: 50 }, (_, i) => ({ cmd: 'puback', messageId: i + 1 })));
  });

  it('writes, for writers whose packets interleave within ticks, each its packets in order and intact', async () => {
    // Small packets and large ones (a batch moves, grows past the shared slab, gets a buffer of its own).
    const sized = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 200 }) },
      { weight: 1, arbitrary: fc.integer({ min: 3000, max: 20_000 }) },
    );
    const step = fc.record({
      writer: fc.integer({ min: 0, max: 2 }),
      packet: fc.oneof(
        fc.record({
          kind: fc.constant('publish' as const),
          size: sized,
          id: fc.integer({ min: 1, max: 0xffff }),
        }),
        fc.record({
          kind: fc.constant('ack' as const),
          size: fc.constant(0),
          id: fc.integer({ min: 1, max: 0xffff }),
        }),
      ),
      tickEnds: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60, size: 'max' }), async (steps) => {
        const streams = [0, 1, 2].map(() => new Recorder(false));
        const writers = streams.map((s) => new MqttWriter(s, { protocolVersion: 5, highWaterMark: 1 << 30 }));
        const expected: Buffer[][] = [[], [], []];
        for (const { writer, packet: p, tickEnds } of steps) {
          const out: MqttPacket =
            p.kind === 'ack'
              ? { cmd: 'puback', messageId: p.id, reasonCode: 0 }
              : {
                  cmd: 'publish',
                  topic: `t/${p.id}`,
                  payload: Buffer.alloc(p.size, p.id & 0xff),
                  qos: 1,
                  messageId: p.id,
                  retain: false,
                  dup: false,
                };
          expected[writer]!.push(encodePacket(out, 5));
          if (p.kind === 'ack' && p.id % 2 === 0) writers[writer]!.writeBareAck('puback', p.id);
          else writers[writer]!.write(out);
          if (tickEnds) await new Promise((resolve) => setImmediate(resolve));
        }
        await new Promise((resolve) => setImmediate(resolve));
        streams.forEach((stream, i) => {
          expect(Buffer.concat(stream.batches.flat()).equals(Buffer.concat(expected[i]!))).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('reports back-pressure at the high-water mark and drain when it falls below', async () => {
    const stream = new Recorder(true);
    const writer = new MqttWriter(stream, { protocolVersion: 4, highWaterMark: 100 });
    const p: PublishPacket = {
      cmd: 'publish',
      topic: 't',
      payload: Buffer.alloc(60),
      qos: 0,
      retain: false,
      dup: false,
    };
    expect(writer.write(p)).toBe(true);
    expect(writer.write(p)).toBe(false);
    expect(writer.full).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    const drained = once(writer, 'drain', { signal: AbortSignal.timeout(5000) });
    stream.flushOne();
    await drained;
    expect(writer.full).toBe(false);
  });
});

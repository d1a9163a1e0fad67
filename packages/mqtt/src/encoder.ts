/**
 * Encoding: packets -> bytes, and MqttWriter, which gathers the packets written in one turn of the event
 * loop into one buffer (a batch), hands the stream one write per turn, and reports the stream's back-pressure.
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { generateWithMqttPacket } from './fallback-codec';
import { encodePublish, measurePublish, writeMeasuredPublish, writePublishFields } from './publish-fast-path';
import type {
  MqttPacket,
  MqttWriterEvents,
  ProtocolVersion,
  PublishProperties,
  QoS,
  WriterOptions,
} from './types';

/** 64 KiB of bytes queued in the writer's batch and the stream before the writer reports itself full. */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 64 * 1024;

/** First byte of PUBACK, PUBREC, PUBREL (its reserved flags are 0b0010) and PUBCOMP. */
const ACK_FIRST_BYTE = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

/** The four bytes of an acknowledgement that is only a packet identifier. */
function writeBareAck(buf: Buffer, pos: number, first: number, id: number): void {
  buf[pos] = first;
  buf[pos + 1] = 2;
  buf[pos + 2] = id >> 8;
  buf[pos + 3] = id & 0xff;
}

/**
 * Encodes one packet. PUBLISH uses the hand-written encoder, and so do the acknowledgements that are only a
 * packet identifier (MQTT 3.1.1; MQTT 5 with reason code 0 and no properties, which may then be left out):
 * one per QoS 1/2 message, and the same bytes as mqtt-packet's. Every other packet goes through mqtt-packet's
 * generate. Throws RangeError for a packet that cannot be encoded.
 */
export function encodePacket(packet: MqttPacket, protocolVersion: ProtocolVersion): Buffer {
  switch (packet.cmd) {
    case 'publish':
      return encodePublish(packet, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const id = packet.messageId;
      const bare = protocolVersion !== 5 || (packet.reasonCode === 0 && packet.properties === undefined);
      if (!bare || !Number.isInteger(id) || id < 0 || id > 0xffff) break;
      const bytes = Buffer.allocUnsafe(4);
      writeBareAck(bytes, 0, ACK_FIRST_BYTE[packet.cmd], id);
      return bytes;
    }
  }
  return generateWithMqttPacket(packet, protocolVersion);
}

/**
 * Batches are cut from slabs of the size of Node's own Buffer pool: a batch that a slow stream keeps
 * pins no more memory than a pooled Buffer would. A batch larger than half a slab gets a buffer of its own.
 */
const SLAB_SIZE = 8 * 1024;
const MAX_SLAB_BATCH = SLAB_SIZE / 2;
/** Room a batch reserves beyond what it needs now, so that the next packets seldom move it. */
const BATCH_HEADROOM = 256;

/** The slab batches are cut from (made at the first write), and where its free part begins. */
let slab: Buffer | undefined;
let slabTop = 0;

/** Writers with a batch to hand their stream, and whether the flush that does it is scheduled. */
const unflushed: MqttWriter[] = [];
let flushScheduled = false;
/**
 * Batches are handed to their streams once the event loop has run the I/O callbacks at hand (setImmediate),
 * so that what several incoming chunks cause for one stream leaves in one write. Taken at load: a test that
 * fakes timers later must not stop the writers.
 */
const scheduleFlush = setImmediate;

function flushAll(): void {
  flushScheduled = false;
  // A writer's flush only writes to its stream (whose callbacks come later), so the list does not change.
  for (let i = 0; i < unflushed.length; i++) unflushed[i]!.flushQueued();
  unflushed.length = 0;
}

export class MqttWriter extends EventEmitter<MqttWriterEvents> {
  readonly protocolVersion: ProtocolVersion;
  readonly highWaterMark: number;
  private readonly stream: Writable;
  private isFull = false;
  /** The packets written since the last flush, in `batch[batchStart, batchEnd)`; `batchEnd` may grow to `batchCapacity`. */
  private batch: Buffer | undefined;
  private batchStart = 0;
  private batchEnd = 0;
  private batchCapacity = 0;
  /** In the list of writers the scheduled flush hands their batches to their streams. */
  private queued = false;
  private readonly onFlushed = (): void => {
    if (this.isFull && this.queuedBytes() < this.highWaterMark) {
      this.isFull = false;
      this.emit('drain');
    }
  };

  constructor(stream: Writable, options: WriterOptions) {
    super();
    this.stream = stream;
    this.protocolVersion = options.protocolVersion;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
  }

  /** True while the batch and the stream hold highWaterMark bytes or more; 'drain' follows when they fall below. */
  get full(): boolean {
    return this.isFull;
  }

  /** Encodes and writes a packet; returns false when the writer is (now) full. Throws RangeError if it cannot be encoded. */
  write(packet: MqttPacket): boolean {
    const version = this.protocolVersion;
    if (packet.cmd === 'publish') {
      const at = this.reserve(measurePublish(packet, version));
      if (at < 0) return false;
      try {
        writeMeasuredPublish(this.batch!, at, packet, version);
      } catch (error) {
        this.unreserve(at);
        throw error;
      }
      return !this.isFull;
    }
    return this.writeBytes(encodePacket(packet, version));
  }

  /** Writes an already encoded packet. */
  writeBytes(bytes: Buffer): boolean {
    const at = this.reserve(bytes.length);
    if (at < 0) return false;
    bytes.copy(this.batch!, at);
    return !this.isFull;
  }

  /**
   * @internal Writes PUBACK, PUBREC, PUBREL or PUBCOMP as only a packet identifier (what encodePacket writes
   * for MQTT 3.1.1, and for MQTT 5 with reason code 0 and no properties).
   */
  writeBareAck(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number): boolean {
    const at = this.reserve(4);
    if (at < 0) return false;
    writeBareAck(this.batch!, at, ACK_FIRST_BYTE[cmd], messageId);
    return !this.isFull;
  }

  /**
   * @internal Writes the PUBLISH that measurePublishFields has just measured at `size` bytes, with the same
   * fields (nothing else may be measured in between).
   */
  writeMeasuredPublish(
    size: number,
    topic: string,
    payload: Buffer,
    qos: QoS,
    dup: boolean,
    retain: boolean,
    messageId: number | undefined,
    properties: PublishProperties | undefined,
  ): boolean {
    const at = this.reserve(size);
    if (at < 0) return false;
    const version = this.protocolVersion;
    try {
      writePublishFields(this.batch!, at, topic, payload, qos, dup, retain, messageId, properties, version);
    } catch (error) {
      this.unreserve(at);
      throw error;
    }
    return !this.isFull;
  }

  /** Hands the batch to the stream now (before ending the stream, for instance). */
  flush(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    const start = this.batchStart;
    const end = this.batchEnd;
    // The unused tail of the slab's last cut goes back to the slab.
    if (batch === slab && this.batchCapacity === slabTop) slabTop = end;
    this.batch = undefined;
    const stream = this.stream;
    if (end === start || stream.destroyed || stream.writableEnded) return;
    stream.write(start === 0 && end === batch.length ? batch : batch.subarray(start, end), this.onFlushed);
  }

  /** @internal the scheduled flush. */
  flushQueued(): void {
    this.queued = false;
    this.flush();
  }

  /** Bytes written and not yet written out by the stream. */
  private queuedBytes(): number {
    return this.stream.writableLength + (this.batch === undefined ? 0 : this.batchEnd - this.batchStart);
  }

  /**
   * Makes room for `size` bytes at the end of the batch and returns where they go (in `this.batch`),
   * or -1 when the stream is gone. Updates `full` and schedules the flush.
   */
  private reserve(size: number): number {
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) return -1;
    if (this.batch === undefined || this.batchEnd + size > this.batchCapacity) this.grow(size);
    const at = this.batchEnd;
    this.batchEnd = at + size;
    if (!this.queued) {
      this.queued = true;
      unflushed.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        scheduleFlush(flushAll);
      }
    }
    if (stream.writableLength + this.batchEnd - this.batchStart >= this.highWaterMark) this.isFull = true;
    return at;
  }

  /** Takes back the room reserved at `at` for a packet that could not be written after all. */
  private unreserve(at: number): void {
    this.batchEnd = at;
  }

  /** Gives the batch room for `size` more bytes: in place when it is the slab's last cut, else by moving it. */
  private grow(size: number): void {
    const old = this.batch;
    const used = old === undefined ? 0 : this.batchEnd - this.batchStart;
    const needed = used + size;
    if (
      old !== undefined &&
      old === slab &&
      this.batchCapacity === slabTop &&
      needed <= MAX_SLAB_BATCH &&
      this.batchEnd + size <= SLAB_SIZE
    ) {
      this.batchCapacity = slabTop = Math.min(SLAB_SIZE, this.batchEnd + size + BATCH_HEADROOM);
      return;
    }
    // Doubling as it grows: a batch is copied O(1) times per byte on average.
    const capacity = needed + Math.max(used, BATCH_HEADROOM);
    let buffer: Buffer;
    let start: number;
    if (needed > MAX_SLAB_BATCH) {
      buffer = Buffer.allocUnsafeSlow(capacity);
      start = 0;
      this.batchCapacity = capacity;
    } else {
      const cut = Math.min(capacity, MAX_SLAB_BATCH);
      if (slab === undefined || slabTop + cut > SLAB_SIZE) {
        slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
        slabTop = 0;
      }
      buffer = slab;
      start = slabTop;
      slabTop += cut;
      this.batchCapacity = slabTop;
    }
    if (old !== undefined && used > 0) old.copy(buffer, start, this.batchStart, this.batchEnd);
    this.batch = buffer;
    this.batchStart = start;
    this.batchEnd = start + used;
  }
}

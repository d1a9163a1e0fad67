// rhea reads a frame's declared size from its first four bytes and keeps every byte that arrives until it has
// that many (Connection.input's `frame_size` and chunks): a peer declaring a frame of up to 4 GiB, before SASL
// as well as after, made it buffer without bound. On the connections this package creates, every transport of
// the connection (SASL, AMQP) refuses a declared size beyond the max-frame-size this end announced (AMQP 1.0
// §2.7.1: a peer must not send larger frames), the way rhea refuses a malformed frame: an error out of the read,
// which rhea reports (the AmqpConnection's 'error': a ConnectionError amqp:connection:framing-error) before ending
// the socket. From then on the connection reads nothing more (what still arrives is dropped, not kept), and the
// socket is destroyed.
import { AmqpConditions, ConnectionError, InvalidArgumentError } from '../errors';
import type { RheaConnection } from './rhea-types';

/** The max-frame-size this package announces unless told otherwise (RabbitMQ's default too). */
export const DEFAULT_MAX_FRAME_SIZE = 128 * 1024;
/** AMQP 1.0's MIN-MAX-FRAME-SIZE: no peer may announce less. */
export const MIN_MAX_FRAME_SIZE = 512;

/** The max-frame-size to announce: `maxFrameSize` when given (checked), else the default. */
export function maxFrameSizeOf(maxFrameSize: number | undefined): number {
  if (maxFrameSize === undefined) return DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > 0xffffffff) {
    throw new InvalidArgumentError(
      `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to 4294967295, got ${maxFrameSize}`,
    );
  }
  return maxFrameSize;
}

interface FrameTransport {
  peek_size(buffer: Buffer): number | undefined;
  read(buffer: Buffer): number;
}

interface ConnectionInternals {
  local: { open: { max_frame_size?: unknown } };
  socket?: { destroy(): void };
  amqp_transport?: unknown;
  sasl_transport?: unknown;
}

const LIMITED = Symbol('dragoman.frameSizeLimited');

function isFrameTransport(value: unknown): value is FrameTransport {
  const candidate = value as Partial<FrameTransport> | undefined;
  return typeof candidate?.peek_size === 'function' && typeof candidate.read === 'function';
}

/** The frame readers of `connection`: its AMQP transport and those of its SASL layer (client, server, selector). */
function transportsOf(connection: ConnectionInternals): FrameTransport[] {
  const found = new Set<FrameTransport>();
  const visit = (layer: unknown, depth: number): void => {
    if (typeof layer !== 'object' || layer === null || depth > 3) return;
    const inner = layer as { transport?: unknown; transports?: Record<string, unknown>; next?: unknown };
    if (inner.transport === undefined && inner.transports === undefined && isFrameTransport(layer)) {
      found.add(layer);
      return;
    }
    visit(inner.transport, depth + 1);
    visit(inner.next, depth + 1);
    if (inner.transports !== undefined) for (const t of Object.values(inner.transports)) visit(t, depth + 1);
  };
  visit(connection.amqp_transport, 0);
  visit(connection.sasl_transport, 0);
  return [...found];
}

/** Makes `connection` refuse frames beyond its announced max-frame-size (see above); call once its socket is set. */
export function limitIncomingFrames(connection: RheaConnection): void {
  const internals = connection as unknown as ConnectionInternals;
  const announced = internals.local.open.max_frame_size;
  const limit = typeof announced === 'number' && announced > 0 ? announced : 0xffffffff;
  let refused = false;
  for (const transport of transportsOf(internals)) {
    const marked = transport as FrameTransport & { [LIMITED]?: true };
    if (marked[LIMITED]) continue;
    marked[LIMITED] = true;
    const peek = transport.peek_size;
    const read = transport.read;
    transport.peek_size = function (this: FrameTransport, buffer: Buffer): number | undefined {
      if (refused) return undefined;
      const size = peek.call(this, buffer);
      if (size === undefined || size <= limit) return size;
      refused = true;
      // Destroyed once rhea has reported the error and ended the socket (it does both in its catch).
      setImmediate(() => internals.socket?.destroy());
      throw new ConnectionError(
        AmqpConditions.connectionFramingError,
        `the peer sent a frame of ${size} bytes, beyond the max-frame-size of ${limit}`,
      );
    };
    transport.read = function (this: FrameTransport, buffer: Buffer): number {
      return refused ? buffer.length : read.call(this, buffer);
    };
  }
}

/**
 * MqttServer: turns Duplex streams (TCP, TLS, WebSocket streams) into MqttEndpoints. It owns no
 * sockets: the host accepts connections however it likes and hands each stream to accept().
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { DEFAULT_MAX_PACKET_SIZE, MQTT_MAX_PACKET_SIZE } from './decoder';
import { DEFAULT_WRITE_HIGH_WATER_MARK } from './encoder';
import { type EndpointLimits, type EndpointTracker, MqttEndpoint } from './endpoint';
import { ReasonCode } from './reason-codes';
import type { MqttServerEvents, MqttServerOptions } from './types';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_TOPIC_ALIAS_MAXIMUM = 32;
export const DEFAULT_RECEIVE_MAXIMUM = 64;
export const DEFAULT_OUTBOUND_WINDOW = 32;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export class MqttServer extends EventEmitter<MqttServerEvents> {
  private readonly limits: EndpointLimits;
  private readonly live = new Set<MqttEndpoint>();
  private readonly connecting = new Set<MqttEndpoint>();
  /** What every endpoint of this server reports to (one object for all of them). */
  private readonly tracker: EndpointTracker = {
    connected: (endpoint) => {
      this.connecting.delete(endpoint);
      this.live.add(endpoint);
      if (this.listenerCount('endpoint') === 0) endpoint.reject(ReasonCode.ServerUnavailable);
      else this.emit('endpoint', endpoint);
    },
    closedEarly: (endpoint, reason, stream) => {
      this.connecting.delete(endpoint);
      this.emit('connectionError', reason, stream);
    },
    closed: (endpoint) => {
      this.live.delete(endpoint);
    },
  };

  constructor(options: MqttServerOptions = {}) {
    super();
    if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
      throw new TypeError('authenticate must be a function');
    }
    this.limits = {
      maxPacketSize: checkInteger(
        'maxPacketSize',
        options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
        16,
        MQTT_MAX_PACKET_SIZE,
      ),
      connectTimeoutMs: checkInteger(
        'connectTimeoutMs',
        options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        1,
        2_147_483_647,
      ),
      topicAliasMaximum: checkInteger(
        'topicAliasMaximum',
        options.topicAliasMaximum ?? DEFAULT_TOPIC_ALIAS_MAXIMUM,
        0,
        65_535,
      ),
      receiveMaximum: checkInteger(
        'receiveMaximum',
        options.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM,
        1,
        65_535,
      ),
      outboundWindow: checkInteger(
        'outboundWindow',
        options.outboundWindow ?? DEFAULT_OUTBOUND_WINDOW,
        1,
        65_535,
      ),
      writeHighWaterMark: checkInteger(
        'writeHighWaterMark',
        options.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK,
        1,
        Number.MAX_SAFE_INTEGER,
      ),
      serverKeepAlive:
        options.serverKeepAlive === undefined
          ? undefined
          : checkInteger('serverKeepAlive', options.serverKeepAlive, 0, 65_535),
      assignClientId: options.assignClientId ?? (() => `dragoman-${randomUUID()}`),
      authenticate: options.authenticate,
      drainTimeoutMs: checkInteger(
        'drainTimeoutMs',
        options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
        1,
        2_147_483_647,
      ),
      enforceReceiveMaximum: options.enforceReceiveMaximum ?? true,
    };
  }

  /** Endpoints handed to the host and not closed yet. */
  get endpoints(): ReadonlySet<MqttEndpoint> {
    return this.live;
  }

  /** Takes over a connected stream: waits for CONNECT, then emits 'endpoint'. */
  accept(stream: Duplex): void {
    // The endpoint already gathers each turn's packets into one write (its writer's batch): Nagle's algorithm
    // can only hold small packets (PUBACK, PINGRESP, a lone PUBLISH) back until the client's delayed ACK, up to
    // 40 ms.
    (stream as Duplex & { setNoDelay?: (noDelay: boolean) => unknown }).setNoDelay?.(true);
    const endpoint = new MqttEndpoint(stream, this.limits, this.tracker);
    this.connecting.add(endpoint);
  }

  /**
   * Disconnects every endpoint (MQTT 5: DISCONNECT 0x8B server shutting down by default) and drops
   * connections still in the handshake.
   */
  close(reasonCode: number = ReasonCode.ServerShuttingDown): void {
    for (const endpoint of [...this.connecting]) endpoint.destroy();
    for (const endpoint of [...this.live]) endpoint.disconnect(reasonCode);
  }
}

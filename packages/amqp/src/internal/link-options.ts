import { InvalidArgumentError } from '../errors';
import type {
  LinkInfo,
  LinkOptions,
  LinkRole,
  ReceiverSettleMode,
  SenderSettleMode,
  SettleModes,
  SourceOptions,
  TargetOptions,
  Terminus,
  TerminusDurability,
  TerminusExpiryPolicy,
} from '../types';
import { SETTLE_MODE_PRESETS } from '../types';

const SENDER_SETTLE: readonly SenderSettleMode[] = ['unsettled', 'settled', 'mixed'];
const RECEIVER_SETTLE: readonly ReceiverSettleMode[] = ['first', 'second'];
const DURABILITY: readonly TerminusDurability[] = ['none', 'configuration', 'unsettled-state'];
const EXPIRY: readonly TerminusExpiryPolicy[] = ['link-detach', 'session-end', 'connection-close', 'never'];

/**
 * The largest message a receiving link takes unless told otherwise: 2 MiB, advertised as the attach's
 * max-message-size. Above the 1 MiB MQTT packets (and 1 MiB stored payloads) @dragoman/mqtt and mqtt-amqp admit
 * by default, with room for what the AMQP form of such a message adds (envelope, topic as address).
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 2 * 1024 * 1024;

/** A link's max-message-size: a whole number of bytes, 0 for no limit; `fallback` when not given. */
export function resolveMaxMessageSize(
  value: number | undefined,
  fallback: number | undefined,
): number | undefined {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `maxMessageSize must be a whole number of bytes >= 0 (0: no limit), got ${value}`,
    );
  }
  return value;
}

export function resolveSettleModes(options: LinkOptions): SettleModes {
  const guarantee = options.guarantee ?? 'at-least-once';
  const preset = SETTLE_MODE_PRESETS[guarantee];
  if (preset === undefined)
    throw new InvalidArgumentError(`unknown delivery guarantee '${String(guarantee)}'`);
  const sender = options.settleModes?.sender ?? preset.sender;
  const receiver = options.settleModes?.receiver ?? preset.receiver;
  if (!SENDER_SETTLE.includes(sender))
    throw new InvalidArgumentError(`unknown sender settle mode '${sender}'`);
  if (!RECEIVER_SETTLE.includes(receiver))
    throw new InvalidArgumentError(`unknown receiver settle mode '${receiver}'`);
  return { sender, receiver };
}

export function senderSettleCode(mode: SenderSettleMode): number {
  return SENDER_SETTLE.indexOf(mode);
}
export function receiverSettleCode(mode: ReceiverSettleMode): number {
  return RECEIVER_SETTLE.indexOf(mode);
}

function terminusFields(t: string | SourceOptions | TargetOptions | undefined): Record<string, unknown> {
  if (t === undefined) return {};
  if (typeof t === 'string') return { address: t };
  const out: Record<string, unknown> = {};
  if (t.address !== undefined) out.address = t.address;
  if (t.durable !== undefined) {
    const code = DURABILITY.indexOf(t.durable);
    if (code < 0) throw new InvalidArgumentError(`unknown terminus durability '${t.durable}'`);
    out.durable = code;
  }
  if (t.expiryPolicy !== undefined) {
    if (!EXPIRY.includes(t.expiryPolicy))
      throw new InvalidArgumentError(`unknown expiry policy '${t.expiryPolicy}'`);
    out.expiry_policy = t.expiryPolicy;
  }
  if (t.timeout !== undefined) out.timeout = t.timeout;
  if (t.dynamic !== undefined) out.dynamic = t.dynamic;
  if (t.dynamicNodeProperties !== undefined) out.dynamic_node_properties = t.dynamicNodeProperties;
  if (t.capabilities !== undefined) out.capabilities = [...t.capabilities];
  const source = t as SourceOptions;
  if (source.distributionMode !== undefined) out.distribution_mode = source.distributionMode;
  if (source.filter !== undefined) out.filter = source.filter;
  return out;
}

/** rhea link options for one of our links. `role` is our side's role. */
export function toRheaLinkOptions(
  role: LinkRole,
  options: LinkOptions,
  settleModes: SettleModes,
  name: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name,
    source: terminusFields(options.source),
    target: terminusFields(options.target),
    snd_settle_mode: senderSettleCode(settleModes.sender),
    rcv_settle_mode: receiverSettleCode(settleModes.receiver),
  };
  if (options.properties !== undefined) out.properties = options.properties;
  if (options.offeredCapabilities !== undefined) out.offered_capabilities = [...options.offeredCapabilities];
  if (options.desiredCapabilities !== undefined) out.desired_capabilities = [...options.desiredCapabilities];
  // A receiver always states its limit (it enforces it: lean-deliveries.ts); a sender only when asked to.
  const maxMessageSize = resolveMaxMessageSize(
    options.maxMessageSize,
    role === 'receiver' ? DEFAULT_MAX_MESSAGE_SIZE : undefined,
  );
  if (maxMessageSize !== undefined) out.max_message_size = maxMessageSize;
  if (role === 'sender') {
    out.autosettle = true;
    out.treat_modified_as_released = false;
  } else {
    out.autoaccept = false;
    out.autosettle = true;
    out.credit_window = 0;
  }
  return out;
}

interface RheaTerminus {
  address?: unknown;
  durable?: unknown;
  expiry_policy?: unknown;
  timeout?: unknown;
  dynamic?: unknown;
  capabilities?: unknown;
  distribution_mode?: unknown;
  filter?: unknown;
}

function asStringArray(value: unknown): readonly string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  return [String(value)];
}

/** True for an absent field: undefined, null, or rhea's typed AMQP null (what an absent terminus decodes to). */
export function isAbsent(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return (
    typeof value === 'object' &&
    'value' in value &&
    (value as { value: unknown }).value === null &&
    'type' in value
  );
}

/** Reads a terminus rhea unwrapped from an attach frame. */
export function readTerminus(raw: unknown, isSource: boolean): Terminus | undefined {
  if (isAbsent(raw) || typeof raw !== 'object') return undefined;
  const t = raw as RheaTerminus;
  const durable = DURABILITY[typeof t.durable === 'number' ? t.durable : 0] ?? 'none';
  const expiry = EXPIRY.includes(t.expiry_policy as TerminusExpiryPolicy)
    ? (t.expiry_policy as TerminusExpiryPolicy)
    : 'session-end';
  const base = {
    address: typeof t.address === 'string' ? t.address : undefined,
    durable,
    expiryPolicy: expiry,
    timeout: typeof t.timeout === 'number' ? t.timeout : 0,
    dynamic: t.dynamic === true,
    capabilities: asStringArray(t.capabilities),
  };
  if (!isSource) return base;
  return {
    ...base,
    distributionMode:
      t.distribution_mode === 'move' || t.distribution_mode === 'copy' ? t.distribution_mode : undefined,
    filter: t.filter !== undefined && t.filter !== null ? (t.filter as Record<string, unknown>) : undefined,
  };
}

interface RheaAttach {
  name?: unknown;
  source?: unknown;
  target?: unknown;
  snd_settle_mode?: unknown;
  rcv_settle_mode?: unknown;
  properties?: unknown;
}

/** Describes a link from an attach frame (ours or the peer's); `role` is our side's role. */
export function linkInfoFromAttach(role: LinkRole, attach: unknown, fallbackName: string): LinkInfo {
  const a = (attach ?? {}) as RheaAttach;
  return {
    name: typeof a.name === 'string' ? a.name : fallbackName,
    role,
    source: readTerminus(a.source, true),
    target: readTerminus(a.target, false),
    settleModes: {
      sender: SENDER_SETTLE[typeof a.snd_settle_mode === 'number' ? a.snd_settle_mode : 0] ?? 'unsettled',
      receiver: RECEIVER_SETTLE[typeof a.rcv_settle_mode === 'number' ? a.rcv_settle_mode : 0] ?? 'first',
    },
    properties:
      a.properties !== undefined && a.properties !== null
        ? (a.properties as Record<string, unknown>)
        : undefined,
  };
}

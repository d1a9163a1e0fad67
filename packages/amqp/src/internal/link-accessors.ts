// rhea's link.init defines nine getters on every link it makes (`source`, `target`, `snd_settle_mode`, ... read
// the peer's attach, `error` its detach): nine closures per link, and the link falls into dictionary mode — about
// 2.5 KB per link, two links per idle MQTT client. The same getters once on rhea's Sender and Receiver
// prototypes, with an init that makes the same fields without them, read the same values. Installed once per
// process (every rhea link made afterwards, a host application's own included), and only when rhea's links look
// exactly as this file expects; otherwise rhea is left as it is.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';

/** What the installer did: 'unexpected-shape' means rhea was left untouched. */
export type LinkAccessorsOutcome = 'installed' | 'already-installed' | 'unexpected-shape';

/** The attach fields rhea exposes as link properties, in rhea's order. */
const ATTACH_FIELDS = [
  'snd_settle_mode',
  'rcv_settle_mode',
  'source',
  'target',
  'max_message_size',
  'offered_capabilities',
  'desired_capabilities',
  'properties',
] as const;
const ACCESSOR_NAMES: readonly string[] = [...ATTACH_FIELDS, 'error'];
/** Options that never override rhea's own attach fields (rhea's `is_internal`). */
const FIXED_ATTACH_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'handle',
  'role',
  'initial_delivery_count',
]);
/** On rhea's Sender prototype once installed, so that a second copy of this package does not install again. */
const INSTALLED = Symbol.for('dragoman.rhea-link-accessors');

interface RemoteEnds {
  remote: { attach?: Record<string, unknown>; detach?: { error?: unknown } };
}

/** A frame type as rhea defines them (`types.define_composite`): `create` sets the named fields. */
interface FrameType {
  create(fields: Record<string, unknown>): Record<string, unknown>;
}

type LinkInit = (
  this: Record<PropertyKey, unknown>,
  session: { connection: unknown },
  name: string,
  localHandle: number,
  options: Record<string, unknown> | undefined,
  isReceiver: boolean,
) => void;

interface ProbeSession {
  connection: unknown;
  create_sender(name: string, options: object): object;
  create_receiver(name: string, options: object): object;
}

interface ProbeContainer {
  create_connection(options: object): unknown;
}

interface ProbeLinks {
  session: ProbeSession;
  sender: Record<PropertyKey, unknown>;
  receiver: Record<PropertyKey, unknown>;
  senderPrototype: Record<PropertyKey, unknown>;
  receiverPrototype: Record<PropertyKey, unknown>;
}

/** What links made the ordinary way tell us about rhea's link module. */
interface RheaLinkModule {
  senderPrototype: Record<PropertyKey, unknown>;
  receiverPrototype: Record<PropertyKey, unknown>;
  originalInit: LinkInit;
  session: ProbeSession;
  makeState: () => unknown;
  attachFrame: FrameType;
  detachFrame: FrameType;
}

function attachFieldGetter(field: string): (this: RemoteEnds) => unknown {
  return function (this: RemoteEnds) {
    return this.remote.attach ? this.remote.attach[field] : undefined;
  };
}

function detachErrorGetter(this: RemoteEnds): unknown {
  return this.remote.detach ? this.remote.detach.error : undefined;
}

/**
 * Puts rhea's link getters on its Sender and Receiver prototypes and replaces their init with one that does not
 * define them per link. Safe to call more than once.
 */
export function installLinkAccessors(container: unknown): LinkAccessorsOutcome {
  try {
    const probe = probeLinks(container);
    if (probe === undefined) return 'unexpected-shape';
    if (probe.senderPrototype[INSTALLED] === true) return 'already-installed';
    const rhea = readLinkModule(probe);
    if (rhea === undefined) return 'unexpected-shape';
    const leanInit = makeLeanInit(rhea);
    if (!initsAgree(rhea, leanInit)) return 'unexpected-shape';
    for (const prototype of [rhea.senderPrototype, rhea.receiverPrototype]) {
      for (const field of ATTACH_FIELDS) {
        Object.defineProperty(prototype, field, { get: attachFieldGetter(field), configurable: true });
      }
      Object.defineProperty(prototype, 'error', { get: detachErrorGetter, configurable: true });
      Object.defineProperty(prototype, 'init', {
        value: leanInit,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    Object.defineProperty(rhea.senderPrototype, INSTALLED, { value: true });
    return 'installed';
  } catch {
    return 'unexpected-shape';
  }
}

/** One sender and one receiver made the ordinary way, on a connection that never connects. */
function probeLinks(container: unknown): ProbeLinks | undefined {
  const probe = container as ProbeContainer | undefined;
  if (typeof probe?.create_connection !== 'function') return undefined;
  const connection = probe.create_connection({
    id: 'dragoman-link-accessors-probe',
    container_id: 'dragoman-link-accessors-probe',
    reconnect: false,
  }) as { create_session?: () => ProbeSession } | undefined;
  if (typeof connection?.create_session !== 'function') return undefined;
  const session = connection.create_session();
  const sender = session.create_sender('probe-sender', {}) as Record<PropertyKey, unknown>;
  const receiver = session.create_receiver('probe-receiver', {}) as Record<PropertyKey, unknown>;
  return {
    session,
    sender,
    receiver,
    senderPrototype: Object.getPrototypeOf(sender) as Record<PropertyKey, unknown>,
    receiverPrototype: Object.getPrototypeOf(receiver) as Record<PropertyKey, unknown>,
  };
}

/** rhea's link module as the probe links show it; undefined when anything is not as expected. */
function readLinkModule(probe: ProbeLinks): RheaLinkModule | undefined {
  const { session, sender, receiver, senderPrototype, receiverPrototype } = probe;
  const shared = Object.getPrototypeOf(senderPrototype) as Record<PropertyKey, unknown> | null;
  if (shared === null || Object.getPrototypeOf(receiverPrototype) !== shared) return undefined;
  const originalInit = shared.init;
  if (typeof originalInit !== 'function') return undefined;
  // Both kinds inherit the one init; neither prototype may have anything by the getters' names.
  for (const prototype of [senderPrototype, receiverPrototype]) {
    if (Object.hasOwn(prototype, 'init')) return undefined;
    if (ACCESSOR_NAMES.some((name) => name in prototype)) return undefined;
  }
  if (!hasPerLinkGetters(sender) || !hasPerLinkGetters(receiver)) return undefined;
  const local = sender.local as { attach?: object; detach?: object } | undefined;
  const attachFrame = frameTypeOf(local?.attach);
  const detachFrame = frameTypeOf(local?.detach);
  const State = (sender.state as { constructor?: unknown } | undefined)?.constructor;
  if (attachFrame === undefined || detachFrame === undefined || typeof State !== 'function') return undefined;
  return {
    senderPrototype,
    receiverPrototype,
    originalInit: originalInit as LinkInit,
    session,
    makeState: () => new (State as new () => unknown)(),
    attachFrame,
    detachFrame,
  };
}

/** The link has exactly rhea's getters as its own: each reads the peer's attach (or detach) as expected. */
function hasPerLinkGetters(link: Record<PropertyKey, unknown>): boolean {
  const saved = link.remote;
  try {
    const attach: Record<string, unknown> = {};
    for (const field of ATTACH_FIELDS) attach[field] = { field };
    const detach = { error: { field: 'error' } };
    for (const name of ACCESSOR_NAMES) {
      const descriptor = Object.getOwnPropertyDescriptor(link, name);
      if (descriptor?.get === undefined || descriptor.set !== undefined) return false;
      link.remote = {};
      if (link[name] !== undefined) return false;
      link.remote = { attach, detach };
      if (link[name] !== (name === 'error' ? detach.error : attach[name])) return false;
    }
    return true;
  } finally {
    link.remote = saved;
  }
}

function frameTypeOf(frame: object | undefined): FrameType | undefined {
  const type = (frame as { constructor?: { create?: unknown } } | undefined)?.constructor;
  return typeof type?.create === 'function' ? (type as FrameType) : undefined;
}

/**
 * rhea's link.init without the per-link getters: the same fields, set in the same order. The attach and detach
 * frames come from the frame types' own `create` (what rhea's `frames.attach` / `frames.detach` are), taken at
 * install: code that later replaces those two factories in rhea would not be called for new links.
 */
function makeLeanInit(rhea: RheaLinkModule): LinkInit {
  const { attachFrame, detachFrame, makeState } = rhea;
  return function init(session, name, localHandle, options, isReceiver) {
    this.session = session;
    this.connection = session.connection;
    this.name = name;
    const opts = options === undefined ? {} : options;
    this.options = opts;
    this.state = makeState();
    this.issue_flow = false;
    const local: Record<string, unknown> = { handle: localHandle };
    this.local = local;
    const attach = attachFrame.create({ handle: localHandle, name, role: isReceiver });
    local.attach = attach;
    for (const field in attach) {
      if (!FIXED_ATTACH_FIELDS.has(field) && opts[field] !== undefined) attach[field] = opts[field];
    }
    local.detach = detachFrame.create({ handle: localHandle, closed: true });
    this.remote = { handle: undefined };
    this.delivery_count = 0;
    this.credit = 0;
    this.observers = new EventEmitter();
  };
}

/**
 * Runs rhea's init and ours on fresh objects of each kind, with options that override attach fields (and some
 * that must not): the same own fields in the same order, with equal values, besides rhea's getters.
 */
function initsAgree(rhea: RheaLinkModule, leanInit: LinkInit): boolean {
  const options = {
    snd_settle_mode: 1,
    rcv_settle_mode: 1,
    max_message_size: 1024,
    desired_capabilities: ['probe'],
    name: 'not-the-name',
    handle: 99,
    role: true,
    initial_delivery_count: 5,
  };
  const kinds = [
    { prototype: rhea.senderPrototype, isReceiver: false },
    { prototype: rhea.receiverPrototype, isReceiver: true },
  ];
  for (const { prototype, isReceiver } of kinds) {
    for (const opts of [options, undefined]) {
      const theirs = Object.create(prototype) as Record<PropertyKey, unknown>;
      const ours = Object.create(prototype) as Record<PropertyKey, unknown>;
      rhea.originalInit.call(theirs, rhea.session, 'probe', 3, opts, isReceiver);
      leanInit.call(ours, rhea.session, 'probe', 3, opts, isReceiver);
      const theirKeys = Reflect.ownKeys(theirs).filter((key) => !ACCESSOR_NAMES.includes(key as string));
      if (!isDeepStrictEqual(theirKeys, Reflect.ownKeys(ours))) return false;
      for (const key of theirKeys) {
        // What the caller passed is kept as is; what init makes afresh (state, frames, emitters) is equal.
        const passed = key === 'session' || key === 'connection' || (key === 'options' && opts !== undefined);
        if (passed ? theirs[key] !== ours[key] : !sameFresh(theirs[key], ours[key])) return false;
      }
      if (!hasPerLinkGetters(theirs)) return false;
    }
  }
  return true;
}

/** Equal primitives, or distinct objects with the same prototype and contents. */
function sameFresh(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null) return a === b;
  return a !== b && isDeepStrictEqual(a, b);
}

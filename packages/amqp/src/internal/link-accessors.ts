// rhea's link.init defines nine getters on every link it makes (`source`, `target`, `snd_settle_mode`, ... read
// the peer's attach, `error` its detach): nine closures per link, and the link falls into dictionary mode — about
// 2.5 KB per link, two links per idle MQTT client. The same getters once on rhea's Sender and Receiver
// prototypes, with an init that makes the same fields without them, read the same values. Installed once per
// process (every rhea link made afterwards, a host application's own included), and only when rhea's links look
// exactly as this file expects; otherwise rhea is left as it is.
// The same init also gives each link lean attach and detach frames (attach-frames.ts; the peer's attach is made
// lean once rhea has handled it) and fast-mode listener tables for the link and its observers
// (listener-tables.ts): about 2 KB less per idle MQTT client. Lean frames are checked against rhea's on these
// probe links too, and left out (rhea's own frames then) when they do not agree or rhea logs frames.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import {
  ATTACH_FIELD_NAMES,
  keepPeerAttachLean,
  type LeanFrames,
  makeLeanFrames,
  type RheaFrameType,
} from './attach-frames';
import { emitterWithFastTable, keepListenerTablesFast, ListenerTable } from './listener-tables';

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

/** What the lean init makes a link's attach and detach frames with. */
interface FrameMakers {
  /** Lean frames (attach-frames.ts), or undefined: rhea's own frame types then. */
  readonly lean: LeanFrames | undefined;
  /** Keys rhea's init walks on a fresh attach frame (its `for…in`) that are not attach fields. */
  readonly otherAttachKeys: readonly string[];
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
  types?: { Writer?: new () => { write(value: unknown): void; toBuffer(): Buffer } };
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
    let makers = frameMakers(rhea, (container as ProbeContainer).types?.Writer);
    let leanInit = makeLeanInit(rhea, makers);
    if (makers.lean !== undefined && !initsAgree(rhea, leanInit, makers)) {
      // Lean frames that do not pass on these links: rhea's own frames, still without the per-link getters.
      makers = { ...makers, lean: undefined };
      leanInit = makeLeanInit(rhea, makers);
    }
    if (!initsAgree(rhea, leanInit, makers)) return 'unexpected-shape';
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
    const linkPrototype = Object.getPrototypeOf(rhea.senderPrototype) as Record<string, unknown>;
    if (makers.lean !== undefined)
      keepPeerAttachLean(linkPrototype, makers.lean, rhea.attachFrame as RheaFrameType);
    keepListenerTablesFast(linkPrototype);
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

/** Lean frames when attach-frames.ts accepts rhea's frame types, and the keys rhea's init walks besides fields. */
function frameMakers(
  rhea: RheaLinkModule,
  Writer: (new () => { write(value: unknown): void; toBuffer(): Buffer }) | undefined,
): FrameMakers {
  const otherAttachKeys: string[] = [];
  const probe = rhea.attachFrame.create({});
  for (const key in probe) if (!ATTACH_FIELD_NAMES.includes(key)) otherAttachKeys.push(key);
  const lean = makeLeanFrames(
    rhea.attachFrame as unknown as RheaFrameType,
    rhea.detachFrame as unknown as RheaFrameType,
    Writer,
  );
  return { lean, otherAttachKeys };
}

/**
 * rhea's link.init without the per-link getters: the same fields, set in the same order. The attach and detach
 * frames are lean (attach-frames.ts) when `makers` has them — unless the options name one of the keys rhea's
 * init would also copy onto its frame that is not a field ('value', 'described'…): rhea's own frame then —, or
 * else come from the frame types' own `create` (what rhea's `frames.attach` / `frames.detach` are), taken at
 * install: code that later replaces those two factories in rhea would not be called for new links. The link's
 * listener table and its observers' are fast-mode tables (listener-tables.ts) made here rather than at the
 * first listener.
 */
function makeLeanInit(rhea: RheaLinkModule, makers: FrameMakers): LinkInit {
  const { attachFrame, detachFrame, makeState } = rhea;
  const { lean, otherAttachKeys } = makers;
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
    const fields = { handle: localHandle, name, role: isReceiver };
    if (lean !== undefined && otherAttachKeys.every((key) => opts[key] === undefined)) {
      const attach = lean.attach.create(fields) as Record<string, unknown>;
      local.attach = attach;
      for (const field of ATTACH_FIELD_NAMES) {
        if (!FIXED_ATTACH_FIELDS.has(field) && opts[field] !== undefined) attach[field] = opts[field];
      }
    } else {
      const attach = attachFrame.create(fields);
      local.attach = attach;
      for (const field in attach) {
        if (!FIXED_ATTACH_FIELDS.has(field) && opts[field] !== undefined) attach[field] = opts[field];
      }
    }
    const detachFields = { handle: localHandle, closed: true };
    local.detach = lean === undefined ? detachFrame.create(detachFields) : lean.detach.create(detachFields);
    this.remote = { handle: undefined };
    this.delivery_count = 0;
    this.credit = 0;
    this.observers = emitterWithFastTable();
    this._events = new ListenerTable();
    this._eventsCount = 0;
  };
}

/** What our init adds to rhea's: the listener table EventEmitter would make at the first listener. */
const ADDED_FIELDS: readonly string[] = ['_events', '_eventsCount'];

/**
 * Runs rhea's init and ours on fresh objects of each kind, with options that override attach fields (and some
 * that must not): the same own fields in the same order, with equal values, besides rhea's getters and the
 * listener table; lean frames read and encode as rhea's.
 */
function initsAgree(rhea: RheaLinkModule, leanInit: LinkInit, makers: FrameMakers): boolean {
  const options = {
    snd_settle_mode: 1,
    rcv_settle_mode: 1,
    max_message_size: 1024,
    desired_capabilities: ['probe'],
    properties: { probe: 'yes' },
    source: { address: 'probe-source' },
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
      if (!isDeepStrictEqual([...theirKeys, ...ADDED_FIELDS], Reflect.ownKeys(ours))) return false;
      for (const key of theirKeys) {
        // What the caller passed is kept as is; what init makes afresh (state, frames, emitters) is equal.
        const passed = key === 'session' || key === 'connection' || (key === 'options' && opts !== undefined);
        if (passed) {
          if (theirs[key] !== ours[key]) return false;
        } else if (key === 'local') {
          if (!sameLocal(theirs.local, ours.local, makers)) return false;
        } else if (key === 'observers') {
          if (!sameEmptyEmitter(theirs.observers, ours.observers)) return false;
        } else if (!sameFresh(theirs[key], ours[key])) return false;
      }
      if (!(ours._events instanceof ListenerTable) || ours._eventsCount !== 0) return false;
      if (!hasPerLinkGetters(theirs)) return false;
    }
  }
  return true;
}

/** The link's `local`: the same handle, and frames that read and encode as rhea's. */
function sameLocal(theirs: unknown, ours: unknown, makers: FrameMakers): boolean {
  const a = theirs as Record<string, unknown>;
  const b = ours as Record<string, unknown>;
  if (!isDeepStrictEqual(Object.keys(a), Object.keys(b)) || a.handle !== b.handle) return false;
  const { lean } = makers;
  if (lean === undefined) return sameFresh(a.attach, b.attach) && sameFresh(a.detach, b.detach);
  return (
    lean.attach.isLean(b.attach) &&
    lean.attach.agrees(b.attach, a.attach) &&
    lean.detach.isLean(b.detach) &&
    lean.detach.agrees(b.detach, a.detach)
  );
}

/** Two EventEmitters of the same kind without listeners, ours with a fast table. */
function sameEmptyEmitter(theirs: unknown, ours: unknown): boolean {
  if (!(theirs instanceof EventEmitter) || !(ours instanceof EventEmitter)) return false;
  if (Object.getPrototypeOf(theirs) !== Object.getPrototypeOf(ours)) return false;
  const fast = (ours as unknown as { _events?: unknown })._events instanceof ListenerTable;
  return fast && theirs.eventNames().length === 0 && ours.eventNames().length === 0;
}

/** Equal primitives, or distinct objects with the same prototype and contents. */
function sameFresh(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null) return a === b;
  return a !== b && isDeepStrictEqual(a, b);
}

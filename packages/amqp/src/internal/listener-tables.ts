// Node's EventEmitter keeps an emitter's listeners in an object made as `{ __proto__: null }`, which V8 holds in
// dictionary mode: about 185 bytes for one event name, 480 for the eleven our Sender listens to on its rhea link.
// A ListenerTable is the same thing in V8's fast mode (about 35 and 150 bytes): an object whose prototype
// chain holds nothing (its prototype is an empty object without prototype), so that looking up any event name
// — 'constructor' and 'toString' included — finds only what was added, as with Node's table. EventEmitter
// reads and writes it as its own (`_events[name]`, `delete`, `Reflect.ownKeys`). rhea's links and their
// `observers` emitters get one (link-accessors.ts), and so do our Senders and Receivers; when an emitter's listeners are all removed, Node makes a
// dictionary table again, which rhea's links replace with a fast one (see keepListenerTablesFast).
import { EventEmitter } from 'node:events';

type Table = Record<string | symbol, unknown>;

/** A listener table in fast mode with nothing inherited (see above). */
export const ListenerTable = function ListenerTable(this: Table) {} as unknown as new () => Table;
ListenerTable.prototype = Object.create(null) as Table;

interface EmitterFields {
  _events?: unknown;
  _eventsCount?: number;
}

/** An EventEmitter like `new EventEmitter()`, with a fast listener table. */
export function emitterWithFastTable(): EventEmitter {
  const emitter = new EventEmitter();
  useFastListenerTable(emitter);
  return emitter;
}

/** Gives an emitter that has no listeners yet (one just constructed) a fast listener table. */
export function useFastListenerTable(emitter: EventEmitter): void {
  const fields = emitter as unknown as EmitterFields;
  if (fields._eventsCount === 0 && isEmptyNodeTable(fields._events)) fields._events = new ListenerTable();
}

/** Whether `table` is an empty listener table as Node makes it (so that replacing it changes nothing). */
function isEmptyNodeTable(table: unknown): boolean {
  return (
    typeof table === 'object' &&
    table !== null &&
    Object.getPrototypeOf(table) === null &&
    Reflect.ownKeys(table).length === 0
  );
}

interface LinkPrototype {
  removeAllListeners?: unknown;
}

/**
 * After `removeAllListeners()` on one of rhea's links (our incoming links clear rhea's before a Sender or
 * Receiver takes the link over), the link gets a fast table again instead of Node's fresh dictionary.
 * Process-wide, on rhea's link prototype; false when it does not inherit EventEmitter's.
 */
export function keepListenerTablesFast(linkPrototype: LinkPrototype): boolean {
  const removeAll = linkPrototype.removeAllListeners;
  if (removeAll !== EventEmitter.prototype.removeAllListeners) return false;
  linkPrototype.removeAllListeners = function (this: EmitterFields, ...args: unknown[]): unknown {
    const result = (removeAll as (...a: unknown[]) => unknown).apply(this, args);
    if (this._eventsCount === 0 && isEmptyNodeTable(this._events)) this._events = new ListenerTable();
    return result;
  };
  return true;
}

// rhea tells a link's listeners of every event through `link.dispatch`, per message ('message') and per outcome
// ('accepted', 'settled', ...): it copies the listener array to count it, and emits twice through `apply` with
// a fresh arguments list each time (once to rhea's own observers, once to the link). The dispatch below, put
// on rhea's link prototype once per process, does the same with counts instead of copies, and calls a lone
// listener directly; what has no listener on the link still goes to the session as before. With rhea's event
// logging on (DEBUG=rhea…) it is not installed, since it does not log.
import rheaLink from 'rhea/lib/link.js';
import { rheaLogs } from './rhea-logging';

type Listener = (this: unknown, context: unknown) => void;

interface Emitter {
  _events?: Record<string, Listener | Listener[] | undefined>;
  listenerCount(name: string): number;
  emit(name: string, context: unknown): boolean;
}

interface LinkInternals extends Emitter {
  observers: Emitter;
  session: { dispatch(name: string, context: unknown): boolean };
}

type Dispatch = (this: LinkInternals, ...args: unknown[]) => boolean;

/** `emitter`'s listeners for `name` called with `context`, as `emit` would. */
function emitTo(emitter: Emitter, name: string, context: unknown): void {
  const listener = emitter._events?.[name];
  if (typeof listener === 'function') listener.call(emitter, context);
  else emitter.emit(name, context);
}

let installed: boolean | undefined;

/** Puts the dispatch above on rhea's link prototype, once per process; false when rhea is not as known. */
export function installLeanLinkDispatch(): boolean {
  if (installed !== undefined) return installed;
  const Sender = (rheaLink as { Sender?: { prototype: object } }).Sender;
  const linkPrototype = Sender
    ? (Object.getPrototypeOf(Sender.prototype) as { dispatch?: unknown })
    : undefined;
  const rheaDispatch = linkPrototype?.dispatch;
  installed = typeof rheaDispatch === 'function' && !rheaLogs();
  if (!installed || linkPrototype === undefined) return false;
  const original = rheaDispatch as Dispatch;
  // `arguments`, not a rest parameter: the usual two-argument call then allocates no array.
  linkPrototype.dispatch = function (this: LinkInternals, name: string, context: unknown): boolean {
    // biome-ignore lint/complexity/noArguments: see above
    if (arguments.length !== 2) return original.apply(this, arguments as unknown as unknown[]);
    if (this.observers.listenerCount(name) > 0) emitTo(this.observers, name, context);
    if (this.listenerCount(name) > 0) {
      emitTo(this, name, context);
      return true;
    }
    return this.session.dispatch(name, context);
  };
  return true;
}

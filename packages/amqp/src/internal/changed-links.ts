// rhea looks at every link of a session each time it processes the connection (after every frame read and
// every send), to write what a link has pending: its attach, a flow, its detach. With thousands of MQTT clients
// on one pooled connection, each with its links, that loop is most of the gateway's CPU: CONNECTs slow down as
// clients accumulate and an idle crowd delays every message. On the connections this package makes, a session
// processes only the links that have something to write, noted after each of rhea's link methods that can
// give a link something to write: a local open or close request (attach, detach, close, and the re-open after a
// reconnect) and a flow to issue (credit added, drain asked or drained). Those methods are wrapped once, on
// rhea's link prototypes (process-wide: a link of a session this package did not make is never noted), so a
// link costs no closure of its own. The rest of rhea's session processing is done as rhea does it.
import rheaLink from 'rhea/lib/link.js';
import type { RheaConnection } from './rhea-types';

/** On the sessions this package makes: their links with something to write. */
const CHANGED = Symbol('dragoman.changedLinks');

interface LinkInternals {
  readonly name: string;
  readonly state: { has_settled(): boolean };
  readonly session: { [CHANGED]?: Set<LinkInternals> };
  issue_flow: boolean;
  _process(): void;
  is_sender(): boolean;
  is_open(): boolean;
  sendable(): boolean;
  dispatch(event: string, context: unknown): void;
  _context(): unknown;
}

interface SessionInternals {
  [CHANGED]?: Set<LinkInternals>;
  links: Record<string, LinkInternals>;
  state: { need_open(): boolean; need_close(): boolean; has_settled(): boolean };
  local: { begin: unknown; end: unknown };
  outgoing: { deliveries: { available(): number }; process(): void };
  incoming: { process(session: SessionInternals): void };
  output(frame: unknown): void;
  _process(): void;
}

type LinkMethod = (this: LinkInternals, argument?: unknown) => unknown;
type Prototype = Record<string, unknown>;

/** Notes `link` in its session's set when it has an open or close request or a flow to write. */
function noteIfChanged(link: LinkInternals): void {
  const changed = link.session[CHANGED];
  if (changed !== undefined && (link.issue_flow || !link.state.has_settled())) changed.add(link);
}

let installed: boolean | undefined;

/**
 * Wraps, once per process, the link methods after which rhea may have given a link something to write (each
 * takes at most one argument); false when rhea's links are not shaped as expected (nothing is wrapped then).
 */
function installLinkHooks(): boolean {
  if (installed !== undefined) return installed;
  const modules = rheaLink as { Sender?: { prototype: Prototype }; Receiver?: { prototype: Prototype } };
  const sender = modules.Sender?.prototype;
  const receiver = modules.Receiver?.prototype;
  const shared = sender === undefined ? undefined : (Object.getPrototypeOf(sender) as Prototype | null);
  const targets: Array<[Prototype | undefined | null, readonly string[]]> = [
    [shared, ['attach', 'open', 'detach', 'close', '_reconnect']],
    [sender, ['set_drained']],
    [receiver, ['flow', 'add_credit', 'drain_credit']],
  ];
  installed = targets.every(
    ([prototype, names]) =>
      prototype !== undefined &&
      prototype !== null &&
      names.every((name) => typeof prototype[name] === 'function'),
  );
  if (!installed) return false; // not the rhea we know: its sessions keep looking at every link
  for (const [prototype, names] of targets) {
    for (const name of names) {
      const method = (prototype as Prototype)[name] as LinkMethod;
      (prototype as Prototype)[name] = function (this: LinkInternals, argument?: unknown): unknown {
        const result = method.call(this, argument);
        noteIfChanged(this);
        return result;
      } satisfies LinkMethod;
    }
  }
  return true;
}

/** Makes every session `connection` creates from now on process only its changed links (see above). */
export function processOnlyChangedLinks(connection: RheaConnection): void {
  const target = connection as unknown as { create_session?: (size?: unknown) => SessionInternals };
  const create = target.create_session;
  if (typeof create !== 'function') return; // not the rhea we know: it keeps looking at every link
  if (!installLinkHooks()) return;
  target.create_session = function (this: unknown, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    if (typeof session._process === 'function' && typeof session.links === 'object')
      trackChangedLinks(session);
    return session;
  };
}

function trackChangedLinks(session: SessionInternals): void {
  const changed = new Set<LinkInternals>();
  session[CHANGED] = changed;
  session._process = function (this: SessionInternals) {
    do {
      if (this.state.need_open()) this.output(this.local.begin);
      const wasBlocked = this.outgoing.deliveries.available() === 0;
      this.outgoing.process();
      if (wasBlocked && this.outgoing.deliveries.available() > 0) announceSendable(this);
      this.incoming.process(this);
      if (changed.size > 0) {
        const links = [...changed];
        changed.clear();
        for (const link of links) if (this.links[link.name] === link) link._process();
      }
      if (this.state.need_close()) this.output(this.local.end);
    } while (!this.state.has_settled());
  };
}

/** The session's window opened again: every open sender that can send is told, as rhea does. */
function announceSendable(session: SessionInternals): void {
  for (const name in session.links) {
    const link = session.links[name] as LinkInternals;
    if (link.is_sender() && link.is_open() && link.sendable()) link.dispatch('sendable', link._context());
  }
}

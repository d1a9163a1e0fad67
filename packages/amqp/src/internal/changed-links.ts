// rhea looks at every link of a session each time it processes the connection (after every frame read and
// every send), to write what a link has pending: its attach, a flow, its detach. With thousands of MQTT clients
// on one pooled connection, each with its links, that loop is most of the gateway's CPU: CONNECTs slow down as
// clients accumulate and an idle crowd delays every message. On the connections this package makes, a session
// processes only the links that have something to write, noted where rhea itself decides they do: a local
// open or close request (their EndpointState says so), and a flow to issue (credit added, drain asked or
// drained). The rest of rhea's session processing is done as rhea does it.
import type { RheaConnection } from './rhea-types';

interface EndpointStateInternals {
  open(): boolean;
  close(): boolean;
  need_open(): boolean;
  need_close(): boolean;
  has_settled(): boolean;
}

interface LinkInternals {
  readonly name: string;
  readonly state: EndpointStateInternals;
  issue_flow: boolean;
  _process(): void;
  is_sender(): boolean;
  is_open(): boolean;
  sendable(): boolean;
  dispatch(event: string, context: unknown): void;
  _context(): unknown;
}

interface SessionInternals {
  links: Record<string, LinkInternals>;
  state: EndpointStateInternals;
  local: { begin: unknown; end: unknown };
  outgoing: { deliveries: { available(): number }; process(): void };
  incoming: { process(session: SessionInternals): void };
  output(frame: unknown): void;
  create_link(name: string, kind: unknown, options: unknown): LinkInternals;
  _process(): void;
}

/** The link methods after which rhea may have set `issue_flow` (Receiver: flow, its alias, drain; Sender: drained). */
const FLOW_METHODS = ['flow', 'add_credit', 'drain_credit', 'set_drained'] as const;

/** Makes every session `connection` creates from now on process only its changed links (see above). */
export function processOnlyChangedLinks(connection: RheaConnection): void {
  const target = connection as unknown as { create_session?: (size?: unknown) => SessionInternals };
  const create = target.create_session;
  if (typeof create !== 'function') return; // not the rhea we know: it keeps looking at every link
  target.create_session = function (this: unknown, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    if (typeof session.create_link === 'function' && typeof session._process === 'function') {
      trackChangedLinks(session);
    }
    return session;
  };
}

function trackChangedLinks(session: SessionInternals): void {
  const changed = new Set<LinkInternals>();
  const createLink = session.create_link;
  session.create_link = function (name, kind, options) {
    const link = createLink.call(this, name, kind, options);
    watch(link, changed);
    return link;
  };
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

/** Notes `link` in `changed` whenever rhea gives it something to write. */
function watch(link: LinkInternals, changed: Set<LinkInternals>): void {
  const state = link.state;
  const open = state.open;
  const close = state.close;
  state.open = function (this: EndpointStateInternals) {
    const requested = open.call(this);
    if (requested) changed.add(link);
    return requested;
  };
  state.close = function (this: EndpointStateInternals) {
    const requested = close.call(this);
    if (requested) changed.add(link);
    return requested;
  };
  const methods = link as unknown as Record<string, unknown>;
  for (const name of FLOW_METHODS) {
    const method = methods[name];
    if (typeof method !== 'function') continue;
    methods[name] = function (this: LinkInternals, ...args: unknown[]) {
      const result = (method as (...a: unknown[]) => unknown).apply(this, args);
      if (this.issue_flow) changed.add(this);
      return result;
    };
  }
}

/** The session's window opened again: every open sender that can send is told, as rhea does. */
function announceSendable(session: SessionInternals): void {
  for (const name in session.links) {
    const link = session.links[name] as LinkInternals;
    if (link.is_sender() && link.is_open() && link.sendable()) link.dispatch('sendable', link._context());
  }
}

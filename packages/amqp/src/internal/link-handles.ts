// rhea gives a new link the lowest handle not in use by looking at every handle from 0 up: with thousands of
// MQTT clients on one pooled session, each attach (ours, or the peer's answered by `on_attach`) costs time in
// proportion to the links already open, and connecting slows as clients accumulate (profiled: `on_attach` up to
// 157 ms of a 0.7 s window at 13,000 clients). On the sessions this package makes, each session keeps the lowest
// handle that may be free, below which every handle is in use: a new link starts looking there, a removed link
// lowers it. The handles given are the ones rhea's scan would give.
import type { RheaConnection } from './rhea-types';

type LinkConstructor = new (
  session: SessionInternals,
  name: string,
  handle: number,
  options: unknown,
) => object;

interface SessionInternals {
  local: { handles: Record<number, unknown> };
  links: Record<string, unknown>;
  create_link(name: string, makeLink: LinkConstructor, options: unknown): object;
  remove_link(link: { local: { handle: number } }): void;
}

/** Makes every session `connection` creates from now on find a free link handle without a scan from 0. */
export function findFreeHandlesQuickly(connection: RheaConnection): void {
  const target = connection as unknown as { create_session?: (size?: unknown) => SessionInternals };
  const create = target.create_session;
  if (typeof create !== 'function') return; // not the rhea we know: it keeps scanning
  target.create_session = function (this: unknown, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    if (
      typeof session.create_link === 'function' &&
      typeof session.remove_link === 'function' &&
      typeof session.local?.handles === 'object'
    )
      keepLowestFreeHandle(session);
    return session;
  };
}

function keepLowestFreeHandle(session: SessionInternals): void {
  let lowestFree = 0;
  const removeLink = session.remove_link;
  // rhea's create_link, with its scan starting at `lowestFree`.
  session.create_link = function (this: SessionInternals, name, makeLink, options) {
    const handles = this.local.handles;
    while (handles[lowestFree]) lowestFree++;
    const link = new makeLink(this, name, lowestFree, options);
    this.links[name] = link;
    handles[lowestFree] = link;
    lowestFree++;
    return link;
  };
  session.remove_link = function (this: SessionInternals, link) {
    const handle = link.local.handle;
    removeLink.call(this, link);
    if (handle < lowestFree && !this.local.handles[handle]) lowestFree = handle;
  };
}

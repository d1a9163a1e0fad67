// The one place that loads rhea. rhea is CommonJS and exports a container instance (`module.exports = new
// Container()`), whose members Node's ESM loader cannot list as named exports: take the default export when
// there is one, the namespace otherwise (bundlers and tsx differ here).
import * as rheaNamespace from 'rhea';
import { installLinkAccessors, type LinkAccessorsOutcome } from './link-accessors';

type RheaModule = typeof rheaNamespace;

const loaded = rheaNamespace as RheaModule & { default?: RheaModule };

export const rhea: RheaModule = loaded.default ?? loaded;

/** rhea's per-link getters moved to its link prototypes, for every rhea link in this process (link-accessors.ts). */
export const linkAccessors: LinkAccessorsOutcome = installLinkAccessors(rhea);

// The one place that loads rhea. rhea is CommonJS and exports a container instance (`module.exports = new
// Container()`), whose members Node's ESM loader cannot list as named exports: take the default export when
// there is one, the namespace otherwise (bundlers and tsx differ here).
import * as rheaNamespace from 'rhea';

type RheaModule = typeof rheaNamespace;

const loaded = rheaNamespace as RheaModule & { default?: RheaModule };

export const rhea: RheaModule = loaded.default ?? loaded;

/**
 * A second, independent AMQP decoder for the wire tests: Qpid Proton (C) through its Python binding
 * (/usr/bin/python3 with python3-qpid-proton, as installed on this machine and in CI). `protonView` decodes raw
 * transfers with it; `rheaView` gives the same tree from rhea's reader, so the two can be compared.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import { amqpTypeName } from './wire-peer';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./proton_view.py', import.meta.url));

export type TypedTree =
  | { readonly described: number; readonly value: TypedTree }
  | { readonly type: string; readonly value: string | TypedTree[] };

export interface ProtonMessageView {
  readonly address: string | null;
  readonly subject: string | null;
  readonly durable: boolean;
  /** Annotation key → the Python type proton gave its value (`int32`, `bool`, `ulong`, …). */
  readonly annotationTypes: Record<string, string>;
  /** The Python type of proton's body (`bytes` for a data section, `str`, `dict`, `list`, `NoneType`). */
  readonly bodyType: string;
}

export interface ProtonView {
  readonly sections: TypedTree[];
  readonly message: ProtonMessageView;
}

/** Whether Python with Qpid Proton is installed. */
export function protonAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import proton'], { timeout: 30_000 }).status === 0;
}

export function protonView(raws: readonly Buffer[]): ProtonView[] {
  const result = spawnSync(PYTHON, [SCRIPT], {
    input: JSON.stringify(raws.map((raw) => raw.toString('hex'))),
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`proton_view.py failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ProtonView[];
}

interface RheaTyped {
  readonly type: { readonly typecode: number };
  readonly value: unknown;
  readonly descriptor?: { readonly value: unknown };
}

function scalar(typed: RheaTyped, type: string): string {
  const value = typed.value;
  if (value === null || value === undefined) return 'null';
  if (type === 'boolean') return value ? 'true' : 'false';
  if (type === 'binary' || type === 'uuid') return Buffer.from(value as Uint8Array).toString('hex');
  if (type === 'timestamp') return String(value instanceof Date ? value.getTime() : value);
  return String(value);
}

function tree(typed: RheaTyped, ignoreDescriptor = false): TypedTree {
  if (!ignoreDescriptor && typed.descriptor !== undefined) {
    return { described: Number(typed.descriptor.value), value: tree(typed, true) };
  }
  const type = amqpTypeName(typed.type.typecode);
  if (type === 'list' || type === 'map' || type === 'array') {
    return { type, value: ((typed.value as RheaTyped[] | undefined) ?? []).map((item) => tree(item)) };
  }
  return { type, value: scalar(typed, type) };
}

/** The raw message as rhea's reader sees it, in the same shape as `protonView`'s sections. */
export function rheaView(raw: Buffer): TypedTree[] {
  const reader = new (
    rhea.types as unknown as { Reader: new (b: Buffer) => { remaining(): number; read(): RheaTyped } }
  ).Reader(raw);
  const out: TypedTree[] = [];
  while (reader.remaining() > 0) out.push(tree(reader.read()));
  return out;
}

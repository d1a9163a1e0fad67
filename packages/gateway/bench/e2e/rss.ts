/** Memory of a target process, read from /proc/<pid>/status (Linux). */
import { readFileSync } from 'node:fs';

export interface MemoryStatus {
  /** Resident set size now, MiB. */
  readonly rssMiB: number;
  /** Peak resident set size since the process started (VmHWM), MiB. */
  readonly hwmMiB: number;
}

function field(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}

export function readMemory(pid: number): MemoryStatus | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssMiB: field(status, 'VmRSS'), hwmMiB: field(status, 'VmHWM') };
  } catch {
    return undefined;
  }
}

/** Samples VmRSS every `intervalMs` and keeps the highest value since the last reset. */
export class RssSampler {
  #peak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    intervalMs = 100,
  ) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
    this.sample();
  }

  sample(): void {
    const memory = readMemory(this.pid);
    if (memory !== undefined && memory.rssMiB > this.#peak) this.#peak = memory.rssMiB;
  }

  reset(): void {
    this.#peak = 0;
    this.sample();
  }

  peakMiB(): number {
    this.sample();
    return Math.round(this.#peak * 10) / 10;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) the process has used since it started, from /proc/<pid>/stat; undefined when
 * unreadable. CPU time per message depends far less on what else runs on the machine than messages per second.
 */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    return Number.isFinite(user + system) ? (user + system) / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

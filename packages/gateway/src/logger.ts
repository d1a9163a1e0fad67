/**
 * Structured logs with pino: JSON lines, or one readable line per record for people at a terminal.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogFormat, LogLevel } from './types';

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** Formats pino's JSON records as `time LEVEL message key=value …` before writing them to `out`. */
export function textDestination(out: { write(text: string): unknown }): DestinationStream {
  return {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
      const level = LEVEL_NAMES[Number(record.level)] ?? String(record.level);
      const fields = Object.entries(record)
        .filter(([key, value]) => !OMITTED.has(key) && !repeats(value, record.msg))
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      out.write(
        `${time} ${level.padEnd(5)} ${String(record.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}\n`,
      );
    },
  };
}

/** A field whose text the message already shows (`MQTT listening on mqtt://…` needs no `url=mqtt://…`). */
function repeats(value: unknown, message: unknown): boolean {
  return typeof value === 'string' && value !== '' && typeof message === 'string' && message.includes(value);
}

/** A logger writing to `out` (default stdout) in the chosen format; `auto` is text on a terminal, else JSON. */
export function createLogger(
  level: LogLevel,
  format: LogFormat,
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  const text = format === 'text' || (format === 'auto' && out.isTTY === true);
  const destination: DestinationStream = text ? textDestination(out) : (out as DestinationStream);
  return pino({ level, base: { name: 'dragoman' } }, destination);
}

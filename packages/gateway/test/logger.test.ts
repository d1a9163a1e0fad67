/**
 * Log output: pino JSON lines, or readable text lines, at the configured level.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index';

function sink(isTTY: boolean): NodeJS.WritableStream & { isTTY: boolean; lines: string[] } {
  const lines: string[] = [];
  return Object.assign(Object.create(process.stdout) as NodeJS.WritableStream, {
    isTTY,
    lines,
    write(text: string): boolean {
      lines.push(text);
      return true;
    },
  });
}

describe('createLogger', () => {
  it('json: one JSON object per line with name, level and msg', () => {
    const out = sink(true);
    createLogger('info', 'json', out).info({ url: 'mqtt://127.0.0.1:1883' }, 'MQTT listening');
    const record = JSON.parse(out.lines[0] ?? '') as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 30,
      name: 'dragoman',
      msg: 'MQTT listening',
      url: 'mqtt://127.0.0.1:1883',
    });
  });

  it('text: time, level, message and fields the message does not already show', () => {
    const out = sink(false);
    const logger = createLogger('debug', 'text', out);
    logger.info({ url: 'mqtt://127.0.0.1:1883' }, 'MQTT listening on mqtt://127.0.0.1:1883');
    logger.debug({ clientId: 'c1', reason: 'connection-lost' }, 'MQTT client closed');
    expect(out.lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}MQTT listening on mqtt:\/\/127\.0\.0\.1:1883\n$/,
    );
    expect(out.lines[1]).toMatch(/ DEBUG MQTT client closed clientId=c1 reason=connection-lost\n$/);
  });

  it('auto: text on a terminal, JSON otherwise; levels below the threshold are dropped', () => {
    const terminal = sink(true);
    const pipe = sink(false);
    createLogger('warn', 'auto', terminal).warn('careful');
    createLogger('warn', 'auto', pipe).warn('careful');
    createLogger('warn', 'auto', pipe).info('not shown');
    expect(terminal.lines[0]).toMatch(/ WARN {2}careful\n$/);
    expect(JSON.parse(pipe.lines[0] ?? '')).toMatchObject({ level: 40, msg: 'careful' });
    expect(pipe.lines).toHaveLength(1);
  });
});

/**
 * The generator's unzeroed frame buffers: with the pool full of old bytes, rhea still writes every frame and
 * SASL response byte for byte as before. Run in a child process, because the change is to the process's rhea.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const module = fileURLToPath(new URL('../bench/e2e/rhea-frame-buffers.ts', import.meta.url));
const run = promisify(execFile);

const PROBE = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const rhea = require('rhea');
const frames = require('rhea/lib/frames.js');
const sasl = require('rhea/lib/sasl.js');
const body = Buffer.from('DRGB'.repeat(40));
const payload = rhea.message.encode({ durable: true, subject: 's', body: rhea.message.data_section(body) });
function encodeAll() {
  const written = [
    frames.amqp_frame(3, frames.open({ container_id: 'c', max_frame_size: 65536 })),
    frames.amqp_frame(3, frames.attach({ name: 'l', handle: 7, role: true, source: {}, target: {} })),
    frames.amqp_frame(3, frames.transfer({ handle: 7, delivery_id: 42, delivery_tag: Buffer.from([1]), message_format: 0 }), payload),
    frames.amqp_frame(3, frames.transfer({ handle: 7, delivery_id: 43, delivery_tag: Buffer.alloc(0) }), Buffer.alloc(3000, 7)),
    frames.amqp_frame(3, frames.disposition({ role: true, first: 1, last: 9, settled: true })),
  ].map((frame) => frames.write_frame(frame).toString('hex'));
  const mechanisms = sasl.client_mechanisms();
  mechanisms.enable_plain('user', 'secret');
  mechanisms.enable_anonymous('guest');
  const responses = ['PLAIN', 'ANONYMOUS'].map((name) => {
    let response = '';
    mechanisms[name]().start((_error, bytes) => (response = bytes.toString('hex')));
    return response;
  });
  return [...written, ...responses];
}
const before = encodeAll();
const { unzeroedRheaFrameBuffers } = await import(${JSON.stringify(module)});
unzeroedRheaFrameBuffers();
const after = [];
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 16; i++) Buffer.allocUnsafe(1024).fill(0xee);
  after.push(encodeAll());
}
const pooled = rhea.message.encode({ body: 'x' }).buffer.byteLength;
console.log(JSON.stringify({ before, after, pooled }));
`;

describe("the generator's rhea frame buffers", () => {
  it('leave every frame and SASL response as rhea wrote them', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', PROBE],
      {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      },
    );
    const { before, after, pooled } = JSON.parse(stdout) as {
      before: string[];
      after: string[][];
      pooled: number;
    };
    expect(before).toHaveLength(7);
    for (const round of after) expect(round).toEqual(before);
    // The writer's buffer now comes from Node's shared pool (8 KiB), not a 1 KiB allocation of its own.
    expect(pooled).toBe(Buffer.poolSize);
  }, 30_000);
});

// `npm start` at the repository root: builds the workspace packages when their builds are missing or older
// than their sources, then runs the `dragoman` command in this process with the arguments given
// (`npm start -- --mqtt 0.0.0.0:1883`). Build output goes to stderr, so stdout carries only the gateway's logs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const packages = ['mqtt', 'amqp', 'reactive', 'adapter', 'mqtt-amqp', 'gateway'];
const outputs = { gateway: ['dist/index.js', 'dist/cli.js'] };

/** Newest modification time of the files under `path` (a file or a directory). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function isStale(name) {
  const dir = join(root, 'packages', name);
  const built = (outputs[name] ?? ['dist/index.js']).map((file) => join(dir, file));
  if (built.some((file) => !existsSync(file))) return true;
  const builtAt = Math.min(...built.map((file) => statSync(file).mtimeMs));
  const inputs = ['src', 'package.json', 'tsup.config.ts'].map((input) => newest(join(dir, input)));
  return Math.max(...inputs) > builtAt;
}

const stale = packages.filter(isStale);
if (stale.length > 0) {
  process.stderr.write(`dragoman: building ${stale.join(', ')} first…\n`);
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0) {
    process.stderr.write('dragoman: the build failed\n');
    process.exit(1);
  }
}

await import(pathToFileURL(join(root, 'packages', 'gateway', 'dist', 'cli.js')).href);

// Builds every workspace package in dependency order (a package's .d.ts
// build reads the .d.ts of the packages it depends on).
import { spawnSync } from 'node:child_process';

const order = ['mqtt', 'amqp', 'reactive', 'adapter', 'mqtt-amqp', 'gateway'];
const only = process.argv.slice(2);

for (const name of order) {
  if (only.length > 0 && !only.includes(name)) continue;
  const result = spawnSync('npm', ['run', 'build', '--if-present', '-w', `packages/${name}`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// Runs every package benchmark (packages/*/bench/*.bench.ts) in its own
// process, against the TypeScript sources. Each benchmark prints JSON lines.
// Usage: npm run bench [-- <package-name> ...]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
let failed = false;
for (const pkg of readdirSync('packages').sort()) {
  if (only.length > 0 && !only.includes(pkg)) continue;
  const dir = join('packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()) {
    const result = spawnSync(
      process.execPath,
      ['--conditions=@dragoman/source', '--import', 'tsx', '--expose-gc', join(dir, file)],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) {
      console.error(`benchmark ${join(dir, file)} failed with exit code ${result.status}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);

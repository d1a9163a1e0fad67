import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', testkit: 'src/testkit/index.ts' },
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  target: 'node20',
});

import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CommonJS build (store/lmdb-module.ts loads lmdb on first use).
  shims: true,
});

#!/usr/bin/env node
// Bundles the CLI (dist/cli.js and everything it imports) into dist/bundle/, one file per
// lazily imported command, so `ship` starts by reading a few files instead of ~250 modules
// (docs/architecture.md, "Start-up"). The library (dist/index.js) stays unbundled.
//
// Left out of the bundle, and required from node_modules when used:
// - ssh2: loads an optional native binding beside its own files;
// - jiti and typescript: the `.ts` config loader, large and only needed for such configs.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { cli: path.join(root, 'dist/cli.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'cpu-features', 'jiti', 'typescript'],
  // The CommonJS packages inside call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __shipRequire } from 'node:module'; const require = __shipRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  legalComments: 'none',
  logLevel: 'warning',
});

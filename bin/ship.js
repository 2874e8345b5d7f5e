#!/usr/bin/env node
// `ship --version` answers from package.json without loading the CLI; everything else runs
// the bundled CLI, dist/bundle/cli.js (scripts/bundle.mjs).
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // Node 22.1+ keeps the compiled code of ship and its dependencies on disk (in the OS temp
  // dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so later runs skip compiling it.
  // Node 20 has no such cache: the call is skipped.
  const { default: mod } = await import('node:module');
  try {
    mod.enableCompileCache?.();
  } catch {
    // an unwritable cache directory only costs the speed-up
  }
  const { main } = await import('../dist/bundle/cli.js');
  main(argv);
}

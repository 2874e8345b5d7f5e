#!/usr/bin/env node
// Runs the uvu suites (unit, contract, integration) with tsx and prints the closing
// line `N passed, N failed`. Usage: node scripts/test.mjs [unit|contract|integration ...]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'contract', 'integration'];

// The real servers the tests use are installed (apt-get, when missing) before anything runs.
if (groups.some((g) => g !== 'unit')) {
  const r = spawnSync('bash', [path.join(root, 'scripts/ensure-system.sh')], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

let passed = 0;
let failed = 0;
for (const group of groups) {
  const dir = path.join('test', group);
  if (!existsSync(path.join(root, dir))) continue;
  console.log(`\n== ${group} ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, '\\.test\\.ts$'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FORCE_COLOR: '0' },
    maxBuffer: 256 * 1024 * 1024,
    // A hung suite must fail, not eat CI's time: each group gets at most 30 minutes.
    timeout: 30 * 60 * 1000,
    killSignal: 'SIGKILL',
  });
  if (r.error) console.log(`${group}: ${r.error.message}`);
  process.stdout.write(r.stdout);
  const total = Number(/Total:\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // A suite crashed before uvu could count: that is a failure, never a pass.
    console.log(`${group}: the runner exited ${r.status} without a summary`);
    failed += 1;
    continue;
  }
  passed += ok;
  failed += total - ok - skipped;
  if (skipped) failed += skipped; // a skipped test is not a pass
  if (r.status !== 0 && total - ok === 0) failed += 1;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// Runs the uvu suites (unit, contract, integration) with tsx and prints the closing
// line `N passed, N failed`. Usage: node scripts/test.mjs [unit|contract|integration ...]
//
// unit and contract run as one uvu process each. Integration files run one process per
// file, so each file's output shows as soon as it ends, with its time, and a hung file
// is killed after SHIP_TEST_FILE_TIMEOUT minutes (default 40) without taking the others.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'contract', 'integration'];
const fileTimeoutMin = Number(process.env.SHIP_TEST_FILE_TIMEOUT ?? 40);

// The real servers the tests use are installed (apt-get, when missing) before anything runs.
if (groups.some((g) => g !== 'unit')) {
  const r = spawnSync('bash', [path.join(root, 'scripts/ensure-system.sh')], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

/** Runs uvu over `dir` with `pattern`; resolves with what it counted. */
function uvu(dir, pattern, label) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, pattern], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FORCE_COLOR: '0' },
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    const timer = setTimeout(() => {
      console.log(`\n${label}: killed after ${fileTimeoutMin} minutes`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, fileTimeoutMin * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (Number.isNaN(total) || Number.isNaN(ok)) {
        // A suite crashed before uvu could count: that is a failure, never a pass.
        console.log(`${label}: the runner exited ${code} without a summary (${secs} s)`);
        return resolve({ passed: 0, failed: 1 });
      }
      let failed = total - ok; // a skipped test is not a pass
      if (code !== 0 && failed === 0) failed = 1;
      console.log(`${label}: ${ok}/${total} passed${skipped ? `, ${skipped} skipped` : ''} in ${secs} s`);
      resolve({ passed: ok, failed });
    });
  });
}

let passed = 0;
let failed = 0;
for (const group of groups) {
  const dir = path.join('test', group);
  if (!existsSync(path.join(root, dir))) continue;
  console.log(`\n== ${group} ==`);
  const runs =
    group === 'integration'
      ? readdirSync(path.join(root, dir))
          .filter((f) => f.endsWith('.test.ts'))
          .sort()
          .map((f) => [`^${f.replace(/[.]/g, '\\.')}$`, `${group}/${f}`])
      : [['\\.test\\.ts$', group]];
  for (const [pattern, label] of runs) {
    const r = await uvu(dir, pattern, label);
    passed += r.passed;
    failed += r.failed;
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

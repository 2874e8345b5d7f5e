/**
 * npm run bench: wall times of real deploys and rollbacks over three OpenSSH hosts on
 * 127.0.0.1, measured side by side in one run (ratios, not absolute promises: the
 * machine is shared). No test asserts on these numbers.
 *
 *   1. the demo app: deploy, redeploy (nothing changed), rollback
 *   2. a 40 MiB build: full upload vs incremental (one file changed), bytes and time
 */
import { randomBytes } from 'node:crypto';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { rmrf, ship, ROOT, writeTree } from '../test/harness/ship.js';
import { project, writeOwned } from '../test/harness/stage.js';
import { startSshHosts } from '../test/harness/sshd.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// Time the built CLI, as users run it (npm run bench builds first).
process.env.SHIP_TEST_BIN ??= 'bin/ship.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(args: string[], cwd: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await ship([...args, '--json'], { cwd });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`ship ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { ms, bytes: (r.events.at(-1)?.bytesSent as number) ?? 0 };
}

const ssh = await startSshHosts(3);
const dirs: string[] = [];
try {
  // 1. The demo app to three hosts.
  const demo = project(ssh, 'bench-demo', { shared: { dirs: ['storage'], files: ['.env'] }, keepReleases: 3 });
  dirs.push(demo.dir);
  for (const h of ssh.hosts) writeOwned(ssh, path.join(h.deployRoot, 'bench-demo'), { 'shared/.env': 'A=1\n' });
  const { spawnSync } = await import('node:child_process');
  spawnSync(process.execPath, [path.join(ROOT, 'fixtures/demo-app/build.mjs')], { stdio: 'ignore' });
  cpSync(path.join(ROOT, 'fixtures/demo-app/dist'), demo.build, { recursive: true });
  const deploys: number[] = [];
  const rollbacks: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    writeTree(demo.build, { 'index.html': `<h1>run ${i}</h1>` });
    deploys.push((await timed(['deploy', 'test'], demo.dir)).ms);
    await timed(['deploy', 'test'], demo.dir);
    rollbacks.push((await timed(['rollback', 'test'], demo.dir)).ms);
  }
  console.log(`demo app, 3 sshd hosts, median of ${RUNS}:`);
  console.log(`  deploy   ${median(deploys).toFixed(0)} ms   (runs: ${deploys.map((x) => x.toFixed(0)).join(' ')})`);
  console.log(`  rollback ${median(rollbacks).toFixed(0)} ms   (runs: ${rollbacks.map((x) => x.toFixed(0)).join(' ')})`);

  // 2. Full vs incremental upload of a larger build.
  const big = project(ssh, 'bench-big', { keepReleases: 2 });
  dirs.push(big.dir);
  const files: Record<string, Buffer | string> = {};
  for (let i = 0; i < 40; i++) files[`chunks/c${i}.bin`] = randomBytes(1024 * 1024);
  writeTree(big.build, { ...files, 'VERSION': '0' });
  const full: { ms: number; bytes: number }[] = [];
  const incr: { ms: number; bytes: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Full: every file changed.
    writeTree(big.build, { [`chunks/c${i % 40}.bin`]: randomBytes(1024 * 1024), 'VERSION': `f${i}` });
    for (const h of ssh.hosts) rmrf(path.join(h.deployRoot, 'bench-big'));
    full.push(await timed(['deploy', 'test'], big.dir));
    // Incremental: one file changed on top of the release just deployed.
    writeTree(big.build, { 'VERSION': `i${i}` });
    incr.push(await timed(['deploy', 'test'], big.dir));
  }
  const fm = median(full.map((x) => x.ms));
  const im = median(incr.map((x) => x.ms));
  console.log(`40 MiB build, 3 sshd hosts, median of ${RUNS}:`);
  console.log(`  full upload        ${fm.toFixed(0)} ms, ${(full[0].bytes / 1048576).toFixed(1)} MiB sent`);
  console.log(`  incremental upload ${im.toFixed(0)} ms, ${(incr[0].bytes / 1024).toFixed(1)} KiB sent`);
  console.log(`  incremental/full time ratio ${(im / fm).toFixed(2)}`);
} finally {
  dirs.forEach(rmrf);
  await ssh.stop();
}

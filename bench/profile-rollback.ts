/**
 * Where a `ship rollback` spends its time, over real sshd hosts on this machine:
 * `node --cpu-prof bin/ship.js rollback … --json` a few times, then
 *   - wall time (spawn to exit) beside ship's own summary `ms` (the difference is Node's
 *     start-up, module loading and config loading, before the run's clock starts),
 *   - the summary's per-step ms,
 *   - CPU self time from the profile, by package / ship module,
 *   - a bare `ssh host 'ln -s … && mv -T …'` on the same hosts, for scale.
 *
 *   node --import tsx bench/profile-rollback.ts        (PROFILE_HOSTS=4, PROFILE_RUNS=5)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, tmpDir, writeConfig, writeTree } from '../test/harness/ship.js';
import { startSshHosts } from '../test/harness/sshd.js';
import { exec, median, runShip, sshFlip } from './tools.js';

const HOSTS = Number(process.env.PROFILE_HOSTS ?? 4);
const RUNS = Number(process.env.PROFILE_RUNS ?? 5);
const BIN = path.join(ROOT, 'bin/ship.js');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Self time (ms) per bucket: npm package, ship module (dist/src/…), or node internals. */
export function selfTime(file: string): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const url = n.callFrame.url;
    let key: string;
    const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (mod) key = mod[1];
    else if (url.includes('/dist/')) key = `ship:${url.split('/dist/').pop()}`;
    else if (url.startsWith('node:')) key = 'node internals';
    else if (!url) key = `(${n.callFrame.functionName || 'native'})`;
    else key = url;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return out;
}

async function main(): Promise<void> {
  if (process.argv[1] !== fileURLToPath(import.meta.url)) return; // imported for selfTime
  const ssh = await startSshHosts(HOSTS);
  const dir = tmpDir('ship-profile-');
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'ship-cpuprof-'));
  try {
    const hosts = ssh.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, 'app') }));
    writeConfig(dir, {
      app: 'profile',
      keepReleases: 5,
      build: { dir: 'build' },
      ssh: { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' },
      stages: { p: { hosts } },
    });
    for (const v of ['a', 'b']) {
      writeTree(path.join(dir, 'build'), { 'index.html': `<h1>${v}</h1>`, 'VERSION': v });
      await runShip(BIN, ['deploy', 'p'], dir);
      await new Promise((r) => setTimeout(r, 1100)); // release ids are by the second
    }
    const walls: number[] = [];
    const inShip: number[] = [];
    const steps = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      const newest = path.basename(readdirSync(path.join(ssh.hosts[0].deployRoot, 'app/releases')).sort().pop()!);
      const runDir = mkdtempSync(path.join(profDir, 'run-'));
      const t0 = performance.now();
      const r = await exec(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${runDir}`, BIN, 'rollback', 'p', '--json'], {
        cwd: dir,
        env: { ...process.env, CI: 'true', FORCE_COLOR: '0' },
      });
      walls.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`rollback exited ${r.code}: ${r.stderr}`);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
      inShip.push(summary.ms);
      for (const [k, v] of Object.entries(summary.steps as Record<string, number>)) steps.set(k, [...(steps.get(k) ?? []), v]);
      const prof = readdirSync(runDir).find((f) => f.endsWith('.cpuprofile'));
      if (prof) for (const [k, v] of selfTime(path.join(runDir, prof))) cpu.set(k, [...(cpu.get(k) ?? []), v]);
      await runShip(BIN, ['rollback', 'p', '--to', newest], dir);
    }
    const bare: number[] = [];
    const root = (h: (typeof ssh.hosts)[0]) => path.join(h.deployRoot, 'app');
    for (let i = 0; i < RUNS; i++) {
      const cur = readdirSync(path.join(ssh.hosts[0].deployRoot, 'app/releases')).sort();
      bare.push(await sshFlip(ssh, ssh.hosts, root, cur[cur.length - 2]));
      await sshFlip(ssh, ssh.hosts, root, cur[cur.length - 1]);
    }
    const versions: number[] = [];
    for (let i = 0; i < RUNS; i++) versions.push((await exec(process.execPath, [BIN, '--version'])).ms);
    const f = (x: number) => `${x.toFixed(0)} ms`;
    console.log(`ship rollback over ${HOSTS} sshd hosts, median of ${RUNS}:`);
    console.log(`  wall (spawn to exit)       ${f(median(walls))}`);
    console.log(`  in ship (summary ms)       ${f(median(inShip))}`);
    console.log(`  start-up + config + exit   ${f(median(walls) - median(inShip))}   (ship --version alone: ${f(median(versions))})`);
    console.log(`  bare ssh flip, ${HOSTS} in parallel ${f(median(bare))}`);
    console.log(`  ratio ship / bare          ${(median(walls) / median(bare)).toFixed(2)}×`);
    console.log('  steps: ' + [...steps].map(([k, v]) => `${k} ${f(median(v))}`).join(', '));
    console.log('  CPU self time by part (median ms per run):');
    const rows = [...cpu].map(([k, v]) => [k, median(v)] as const).sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((n, [, v]) => n + v, 0);
    for (const [k, v] of rows.slice(0, 20)) console.log(`    ${k.padEnd(40)} ${v.toFixed(1).padStart(7)} ms`);
    console.log(`    ${'total sampled'.padEnd(40)} ${total.toFixed(1).padStart(7)} ms`);
  } finally {
    await ssh.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(profDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

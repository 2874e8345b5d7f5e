/**
 * Where a full `ship deploy` of a real-size build spends its time, over one real sshd host:
 * the build of `npm run bench` (10,000 files / ~100 MB, bench/build-gen.ts; PROFILE_FILES,
 * PROFILE_MB), deployed PROFILE_RUNS times (3) into an empty deploy dir under
 * `node --cpu-prof`, beside `tar -c | ssh 'tar -x'` for scale. Prints wall time, ship's
 * per-step ms and CPU self time by package / ship module (PROFILE_KEEP=1 keeps the
 * .cpuprofile files, for Chrome's DevTools).
 *
 *   node --import tsx bench/profile-deploy.ts
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, tmpDir, writeConfig } from '../test/harness/ship.js';
import { startSshHosts } from '../test/harness/sshd.js';
import { planBuild, writeBuildTree, writeVersion } from './build-gen.js';
import { selfTime } from './profile-rollback.js';
import { exec, median, tarDeploy } from './tools.js';

const RUNS = Number(process.env.PROFILE_RUNS ?? 3);
const FILES = Number(process.env.PROFILE_FILES ?? 10_000);
const MB = Number(process.env.PROFILE_MB ?? 100);
const BIN = path.join(ROOT, 'bin/ship.js');

async function main(): Promise<void> {
  const ssh = await startSshHosts(1);
  const dir = tmpDir('ship-profile-deploy-');
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'ship-cpuprof-'));
  try {
    const h = ssh.hosts[0];
    const source = path.join(dir, 'source');
    writeBuildTree(source, planBuild(FILES, MB * 1e6));
    cpSync(source, path.join(dir, 'build'), { recursive: true });
    writeVersion(path.join(dir, 'build'), 0);
    const walls: number[] = [];
    const tars: number[] = [];
    const steps = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      const sub = `full-${i}`;
      writeConfig(dir, {
        app: 'profile',
        build: { dir: 'build' },
        ssh: { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' },
        stages: { p: { hosts: [{ name: h.name, host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, sub) }] } },
      });
      rmSync(path.join(dir, '.ship'), { recursive: true, force: true }); // a full deploy: no cache
      const runDir = mkdtempSync(path.join(profDir, 'run-'));
      const t0 = performance.now();
      const r = await exec(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${runDir}`, BIN, 'deploy', 'p', '--json'], { cwd: dir, env: { ...process.env, CI: 'true', FORCE_COLOR: '0' } });
      walls.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`deploy exited ${r.code}: ${r.stderr}`);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
      for (const [k, v] of Object.entries(summary.steps as Record<string, number>)) steps.set(k, [...(steps.get(k) ?? []), v]);
      const prof = readdirSync(runDir).find((f) => f.endsWith('.cpuprofile'));
      if (prof) for (const [k, v] of selfTime(path.join(runDir, prof))) cpu.set(k, [...(cpu.get(k) ?? []), v]);
      tars.push((await tarDeploy(ssh, [h], (x) => path.join(x.deployRoot, `tar-${i}`), path.join(dir, 'build'), 'r1')).ms);
    }
    const f = (x: number) => `${x.toFixed(0)} ms`;
    console.log(`full deploy of ${FILES} files / ${MB} MB to 1 sshd host, median of ${RUNS}:`);
    console.log(`  ship (spawn to exit)   ${f(median(walls))}`);
    console.log(`  tar | ssh + flip       ${f(median(tars))}   ratio ${(median(walls) / median(tars)).toFixed(2)}×`);
    console.log('  steps: ' + [...steps].map(([k, v]) => `${k} ${f(median(v))}`).join(', '));
    console.log('  CPU self time by part (median ms per run):');
    const rows = [...cpu].map(([k, v]) => [k, median(v)] as const).sort((a, b) => b[1] - a[1]);
    for (const [k, v] of rows.slice(0, 25)) console.log(`    ${k.padEnd(40)} ${v.toFixed(1).padStart(7)} ms`);
  } finally {
    await ssh.stop();
    rmSync(dir, { recursive: true, force: true });
    if (process.env.PROFILE_KEEP) console.log(`  profiles kept in ${profDir}`);
    else rmSync(profDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

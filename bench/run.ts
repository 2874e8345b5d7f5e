/**
 * `npm run bench`: deploy timings side by side, over a real sshd host on this machine
 * (test/harness/sshd.ts; needs root to start it, like the tests).
 *
 *   full         a deploy into an empty deployTo: every file is sent
 *   incremental  the next deploy with 1% of the files changed: the rest are hard-linked
 *                from the previous release on the server
 *   assets on    a deploy with `assets: { keep: 3 }` after three releases with new
 *                fingerprinted files each (their files are linked into the new release)
 *   assets off   the same deploy without `assets`
 *
 * Each figure is the median of RUNS deploys: ship's own run time (its summary's `ms`,
 * without the CLI's start-up) and bytes sent. Env: BENCH_FILES (default 1500 files of
 * 8 KiB), BENCH_ASSETS (300 asset files per release), BENCH_RUNS (3).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { rmrf, ship, tmpDir, writeConfig, writeTree } from '../test/harness/ship.js';
import { startSshHosts } from '../test/harness/sshd.js';

const FILES = Number(process.env.BENCH_FILES ?? 1500);
const ASSETS = Number(process.env.BENCH_ASSETS ?? 300);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const ssh = await startSshHosts(1);
  const h = ssh.hosts[0];
  const dir = tmpDir('ship-bench-');
  const buildDir = path.join(dir, 'build');
  const base: Record<string, Buffer> = {};
  for (let i = 0; i < FILES; i++) base[`lib/${Math.floor(i / 100)}/file${i}.bin`] = randomBytes(8192);
  let counter = 0;
  /** The base files (`changed` of them new), plus a fresh set of fingerprinted assets. */
  const writeBuild = (changed: number) => {
    rmrf(buildDir);
    counter++;
    const tree: Record<string, Buffer | string> = { ...base };
    const keys = Object.keys(base);
    for (let i = 0; i < changed; i++) tree[keys[(counter * 37 + i * 7) % keys.length]] = randomBytes(8192);
    for (let i = 0; i < ASSETS; i++) tree[`public/assets/chunk${i}.${counter}.js`] = randomBytes(4096);
    tree['public/index.html'] = `<h1>build ${counter}</h1>`;
    writeTree(buildDir, tree);
  };
  const config = (sub: string, extra: object = {}) =>
    writeConfig(dir, {
      app: 'bench',
      build: { dir: 'build' },
      keepReleases: 10,
      ssh: { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' },
      ...extra,
      stages: { bench: { hosts: [{ name: 'bench', host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, sub) }] } },
    });
  const deploy = async () => {
    const t0 = Date.now();
    const r = await ship(['deploy', 'bench', '--json'], { cwd: dir });
    if (r.code !== 0) throw new Error(`deploy failed: ${r.stderr}\n${r.stdout}`);
    const s = r.events.at(-1)!;
    return { ms: s.ms as number, wall: Date.now() - t0, bytes: s.bytesSent as number };
  };

  const rows: Array<{ name: string; ms: number; wall: number; bytes: number }> = [];
  const measure = async (name: string, prepare: (i: number) => void | Promise<void>) => {
    const xs: Array<{ ms: number; wall: number; bytes: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      await prepare(i);
      xs.push(await deploy());
    }
    rows.push({ name, ms: median(xs.map((x) => x.ms)), wall: median(xs.map((x) => x.wall)), bytes: median(xs.map((x) => x.bytes)) });
  };

  try {
    await measure('full (empty deployTo)', (i) => {
      config(`full-${i}`);
      writeBuild(0);
    });
    config('incr');
    writeBuild(0);
    await deploy();
    await measure(`incremental (${Math.max(1, Math.round(FILES / 100))} of ${FILES} files changed)`, () => writeBuild(Math.max(1, Math.round(FILES / 100))));
    const assetsRun = async (name: string, extra: object) => {
      config(`${name}-x`, extra);
      for (let i = 0; i < 3; i++) {
        writeBuild(0);
        await deploy();
      }
      await measure(name, () => writeBuild(0));
    };
    await assetsRun('assets off', {});
    await assetsRun(`assets on (keep 3, ${ASSETS} files per release)`, { assets: { dirs: ['public/assets'], keep: 3 } });
  } finally {
    await ssh.stop();
    rmrf(dir);
  }

  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`\nship deploy over ssh, ${FILES} files of 8 KiB + ${ASSETS} assets, median of ${RUNS}:`);
  for (const r of rows) console.log(`  ${r.name.padEnd(w)}  ${String(r.ms).padStart(6)} ms in ship  ${String(r.wall).padStart(6)} ms wall  ${kb(r.bytes).padStart(10)} sent`);
  const [full, incr, off, on] = rows;
  console.log(`  incremental / full: ${(incr.ms / full.ms).toFixed(2)}x the time, ${(incr.bytes / full.bytes).toFixed(3)}x the bytes`);
  console.log(`  assets on / off:    ${(on.ms / off.ms).toFixed(2)}x the time`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

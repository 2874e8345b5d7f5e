/**
 * The cost of making release files read-only (src/immutable.ts), measured against the
 * CLI of another checkout in the same run: incremental deploys of FILES files of 8 KiB
 * (1% changed each time) over one real sshd host, alternating between the two CLIs, each
 * into its own deployTo. Prints the median of ship's own run time (summary `ms`).
 *
 *   BASE_BIN=/path/to/other-checkout/bin/ship.js node --import tsx bench/readonly-cost.ts
 *
 * Env: FILES (1500), RUNS (7). The other checkout must be built (npm run build).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ROOT, rmrf, ship, tmpDir, writeConfig, writeTree } from '../test/harness/ship.js';
import { startSshHosts } from '../test/harness/sshd.js';

const FILES = Number(process.env.FILES ?? 1500);
const RUNS = Number(process.env.RUNS ?? 7);
const BASE = process.env.BASE_BIN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  if (!BASE) throw new Error('set BASE_BIN to the bin/ship.js of the checkout to compare with');
  const ssh = await startSshHosts(1);
  const h = ssh.hosts[0];
  const dir = tmpDir('ship-bench-ro-');
  const buildDir = path.join(dir, 'build');
  const base: Record<string, Buffer> = {};
  for (let i = 0; i < FILES; i++) base[`lib/${Math.floor(i / 100)}/file${i}.bin`] = randomBytes(8192);
  let counter = 0;
  const writeBuild = () => {
    rmrf(buildDir);
    counter++;
    const tree = { ...base };
    const keys = Object.keys(base);
    for (let i = 0; i < Math.max(1, FILES / 100); i++) tree[keys[(counter * 37 + i * 7) % keys.length]] = randomBytes(8192);
    writeTree(buildDir, tree);
  };
  const variants = [
    { name: 'before (other checkout)', bin: BASE, sub: 'before' },
    { name: 'after (this checkout)', bin: path.join(ROOT, 'bin/ship.js'), sub: 'after' },
  ];
  const deploy = async (v: (typeof variants)[number]) => {
    writeConfig(dir, {
      app: 'bench',
      build: { dir: 'build' },
      keepReleases: 3,
      ssh: { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' },
      stages: { bench: { hosts: [{ name: 'bench', host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, v.sub) }] } },
    });
    const prev = process.env.SHIP_TEST_BIN;
    process.env.SHIP_TEST_BIN = v.bin;
    const r = await ship(['deploy', 'bench', '--json'], { cwd: dir });
    process.env.SHIP_TEST_BIN = prev;
    if (r.code !== 0) throw new Error(`${v.name}: deploy failed: ${r.stderr}`);
    return r.events.at(-1)!.ms as number;
  };
  const ms: Record<string, number[]> = {};
  try {
    writeBuild();
    for (const v of variants) await deploy(v); // first (full) deploys, not measured
    for (let i = 0; i < RUNS; i++) {
      writeBuild();
      for (const v of i % 2 ? [...variants].reverse() : variants) (ms[v.name] ??= []).push(await deploy(v));
    }
  } finally {
    await ssh.stop();
    rmrf(dir);
  }
  console.log(`incremental deploy, ${FILES} files of 8 KiB, ${Math.max(1, FILES / 100)} changed, median of ${RUNS} (ms in ship):`);
  for (const v of variants) console.log(`  ${v.name.padEnd(24)} ${String(median(ms[v.name])).padStart(6)}   all: ${ms[v.name].join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

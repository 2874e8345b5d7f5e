/**
 * `npm run bench`: ship beside the tools a user would script by hand, on a build shaped
 * like a real one, over real OpenSSH servers on this machine, in one run.
 *
 *   build     10,000 files / ~100 MB, generated from a seed (bench/build-gen.ts): many
 *             small JS/JSON/CSS files, some medium, a few large; part compressible text,
 *             part incompressible (images, fonts, wasm). Or BENCH_BUILD=<dir>: a copy of it.
 *   tools     ship (the built CLI, `node bin/ship.js … --json`, timed from spawn to exit);
 *             tar|ssh: `tar -c | ssh host 'tar -x -C releases/<id>'`, then on each host
 *             `ssh host 'ln -s releases/<id> tmp && mv -T tmp current'`;
 *             rsync: `rsync -a --link-dest=<previous release> build/ host:releases/<id>/`
 *             and the same flip; rollback: that bare ssh flip alone.
 *             Hosts of a run are served in parallel, and flipped only once all have the
 *             release (as ship's all-at-once strategy does).
 *   cases     full deploy (empty deploy dir); incremental with 1 file changed; a rebuild
 *             that rewrote every file (new inodes and mtimes, same bytes) and changed 1;
 *             a cold deployer (ship's local cache removed first, as on a CI machine);
 *             rollback. Each on 1 and 4 hosts, plus 16 hosts incremental, and a 2 GB
 *             build to 1 host for ship's peak memory.
 *   figures   medians of BENCH_RUNS runs; bytes sent per host (ship: its summary's
 *             bytesSent / hosts; tar: bytes through the pipe, `tar --totals`; rsync: its
 *             `Total bytes sent`); ship's peak RSS (GNU time %M, else VmHWM polling);
 *             switch skew over 4 hosts (the spread of the ctimes of the hosts' `current`
 *             symlinks: rename(2) sets them, and the hosts share one clock).
 *
 * Env: BENCH_QUICK=1 (2,000 files / 20 MB, 1 run, 256 MB big build), BENCH_RUNS,
 * BENCH_FILES, BENCH_MB, BENCH_BUILD=<dir>, BENCH_BIG_MB (0 skips it), BENCH_FLEET
 * (hosts of the fleet case, default 16; 0 skips it), BENCH_ROLLBACK_RUNS,
 * BENCH_CACHE_DIRS (ship's local cache dirs, relative to the project, comma-separated).
 * No test asserts on any of this: the machine is shared; the printed table is the record.
 */
import { cpSync, existsSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tmpDir, writeConfig } from '../test/harness/ship.js';
import { startSshHosts, type SshHost, type SshHosts } from '../test/harness/sshd.js';
import { planBuild, writeBuildTree, writeSparseTree, writeVersion } from './build-gen.js';
import { ctimeResolution, exec, median, rsyncDeploy, runShip, sshFlip, switchSkewMs, tarDeploy, type Run, type ShipResult } from './tools.js';

const QUICK = process.env.BENCH_QUICK === '1';
const num = (name: string, dflt: number) => (process.env[name] !== undefined && process.env[name] !== '' ? Number(process.env[name]) : dflt);
const RUNS = num('BENCH_RUNS', QUICK ? 1 : 3);
const FILES = num('BENCH_FILES', QUICK ? 2000 : 10_000);
const MB = num('BENCH_MB', QUICK ? 20 : 100);
const BIG_MB = num('BENCH_BIG_MB', QUICK ? 256 : 2048);
const FLEET = num('BENCH_FLEET', 16);
const ROLLBACK_RUNS = num('BENCH_ROLLBACK_RUNS', QUICK ? 3 : 5);
const BIN = path.join(ROOT, 'bin/ship.js');

/**
 * ship's local state on the deployer, which a fresh CI machine does not have. The cold
 * case removes these (relative to the project dir) before each run: point it at
 * wherever ship keeps its cache.
 */
export const LOCAL_CACHE_DIRS = (process.env.BENCH_CACHE_DIRS ?? '.ship/cache').split(',').filter(Boolean);
function dropLocalCache(project: string): void {
  for (const d of LOCAL_CACHE_DIRS) rmSync(path.join(project, d), { recursive: true, force: true, maxRetries: 3 });
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const rm = (p: string) => rmSync(p, { recursive: true, force: true, maxRetries: 5 });

type Case = 'full' | 'incremental' | 'rebuild' | 'cold' | 'rollback';
const CASE_LABEL: Record<Case, string> = {
  full: 'full deploy',
  incremental: 'incremental, 1 file changed',
  rebuild: 'incremental after a rebuild',
  cold: 'incremental, cold deployer',
  rollback: 'rollback',
};

interface Row {
  case: Case;
  hosts: number;
  ship: ShipResult[];
  /** tar|ssh, or the bare ssh flip for rollback. */
  base: Run[];
  rsync: Run[];
  skew: number[];
  baseSkew: number[];
  error?: string;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const tmp = tmpDir('ship-bench-');
  const source = process.env.BENCH_BUILD ? path.resolve(process.env.BENCH_BUILD) : path.join(tmp, 'source');
  const project = path.join(tmp, 'project');
  const build = path.join(project, 'build');
  let ssh: SshHosts | undefined;
  const rows: Row[] = [];
  const extra: string[] = [];
  let big: { ms: number; rss: number; bytes: number; files: number } | { error: string } | undefined;
  let version: number[] = [];
  try {
    if (!process.env.BENCH_BUILD) {
      log(`generating a build of ${FILES} files / ${MB} MB`);
      writeBuildTree(source, planBuild(FILES, MB * 1e6));
    }
    cpSync(source, build, { recursive: true });
    writeVersion(build, 0);
    const shape = describe(build);
    const hostsNeeded = Math.max(4, FLEET);
    log(`starting ${hostsNeeded} sshd hosts`);
    ssh = await startHosts(hostsNeeded);
    const S = ssh;
    const stageHosts = (n: number, sub: string) =>
      S.hosts.slice(0, n).map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, sub) }));
    const counts = [1, 4, ...(FLEET > 4 ? [FLEET] : [])];
    writeConfig(project, {
      app: 'bench',
      keepReleases: 3,
      build: { dir: 'build' },
      ssh: { privateKey: S.privateKey, knownHosts: S.knownHosts, strictHostKeyChecking: 'yes' },
      stages: Object.fromEntries(counts.map((n) => [`h${n}`, { hosts: stageHosts(n, `ship-${n}`) }])),
    });

    // ship --version: the start-up every command pays.
    const v: number[] = [];
    for (let i = 0; i < 5; i++) v.push((await exec(process.execPath, [BIN, '--version'])).ms);
    version = v;
    const res = await ctimeResolution(S.hosts[0].deployRoot);

    let n = 0; // build number written into app/version.js
    const ids: Record<string, number> = {};
    const nextId = (tool: string) => `r${String((ids[tool] = (ids[tool] ?? 0) + 1)).padStart(4, '0')}`;
    const rootOf = (tool: string, count: number) => (h: SshHost) => path.join(h.deployRoot, `${tool}-${count}`);
    const currentId = (root: string) => path.basename(readlinkSync(path.join(root, 'current')));
    /** Keeps the baseline's two newest releases (untimed), as ship keeps a few. */
    const trim = (tool: string, count: number) => {
      for (const h of S.hosts.slice(0, count)) {
        const rel = path.join(rootOf(tool, count)(h), 'releases');
        if (!existsSync(rel)) continue;
        readdirSync(rel).sort().slice(0, -2).forEach((d) => rm(path.join(rel, d)));
      }
    };
    const baselines = async (row: Row, count: number, hosts: SshHost[]) => {
      const tid = nextId(`tar-${count}`);
      row.base.push(await tarDeploy(S, hosts, rootOf('tar', count), build, tid));
      if (count === 4) row.baseSkew.push(switchSkewMs(hosts.map(rootOf('tar', count))));
      trim('tar', count);
      const prevRsync = existsSync(path.join(rootOf('rsync', count)(hosts[0]), 'current')) ? currentId(rootOf('rsync', count)(hosts[0])) : undefined;
      row.rsync.push(await rsyncDeploy(S, hosts, rootOf('rsync', count), build, nextId(`rsync-${count}`), prevRsync));
      trim('rsync', count);
    };
    const shipDeploy = async (row: Row, count: number, hosts: SshHost[]) => {
      const r = await runShip(BIN, ['deploy', `h${count}`], project);
      row.ship.push(r);
      if (count === 4) row.skew.push(switchSkewMs(hosts.map(rootOf('ship', count))));
    };

    const cases: Array<[Case, number]> = [];
    for (const c of ['full', 'incremental', 'rebuild', 'cold', 'rollback'] as Case[]) for (const count of [1, 4]) cases.push([c, count]);
    if (FLEET > 4) cases.push(['incremental', FLEET]);
    // Run order: per host count, the cases in the order above (each needs the previous one's releases).
    cases.sort((a, b) => (a[1] === b[1] ? 0 : a[1] - b[1]));

    for (const [c, count] of cases) {
      const hosts = S.hosts.slice(0, count);
      const row: Row = { case: c, hosts: count, ship: [], base: [], rsync: [], skew: [], baseSkew: [] };
      rows.push(row);
      log(`${CASE_LABEL[c]}, ${count} host${count > 1 ? 's' : ''}`);
      try {
        if (count === FLEET && count > 4) {
          // The fleet starts from a full deploy of each tool (untimed, one run).
          dropLocalCache(project);
          await runShip(BIN, ['deploy', `h${count}`], project);
          await rsyncDeploy(S, hosts, rootOf('rsync', count), build, nextId(`rsync-${count}`), undefined);
        }
        if (c === 'rollback') {
          for (let i = 0; i < ROLLBACK_RUNS; i++) {
            const shipRoots = hosts.map(rootOf('ship', count));
            const newest = currentId(shipRoots[0]);
            const r = await runShip(BIN, ['rollback', `h${count}`], project);
            row.ship.push(r);
            if (count === 4) row.skew.push(switchSkewMs(shipRoots));
            await runShip(BIN, ['rollback', `h${count}`, '--to', newest], project);
            // The bare flip: to the tar baseline's previous release, then back (untimed).
            const tarRoot = rootOf('tar', count);
            const rels = readdirSync(path.join(tarRoot(hosts[0]), 'releases')).sort();
            const [prev, last] = rels.slice(-2);
            row.base.push({ ms: await sshFlip(S, hosts, tarRoot, prev), bytes: 0 });
            if (count === 4) row.baseSkew.push(switchSkewMs(hosts.map(tarRoot)));
            await sshFlip(S, hosts, tarRoot, last);
          }
          continue;
        }
        for (let i = 0; i < RUNS; i++) {
          if (c === 'full') {
            for (const tool of ['ship', 'tar', 'rsync']) for (const h of hosts) rm(rootOf(tool, count)(h));
            writeVersion(build, ++n);
          } else if (c === 'rebuild') {
            rm(build);
            cpSync(source, build, { recursive: true });
            writeVersion(build, ++n);
          } else {
            writeVersion(build, ++n);
          }
          if (c === 'cold') dropLocalCache(project);
          await shipDeploy(row, count, hosts);
          await baselines(row, count, hosts);
        }
      } catch (e) {
        row.error = (e as Error).message.split('\n').slice(0, 6).join('\n');
        log(`  failed: ${row.error}`);
      }
    }

    if (BIG_MB > 0) {
      log(`a ${BIG_MB} MB build (${Math.round(BIG_MB)} sparse files of 1 MB) to 1 host`);
      const bigProject = path.join(tmp, 'big');
      const bigRoot = path.join(S.hosts[0].deployRoot, 'ship-big');
      try {
        writeSparseTree(path.join(bigProject, 'build'), Math.round(BIG_MB), 1024 * 1024);
        writeConfig(bigProject, {
          app: 'bench-big',
          build: { dir: 'build' },
          ssh: { privateKey: S.privateKey, knownHosts: S.knownHosts, strictHostKeyChecking: 'yes' },
          stages: { big: { hosts: stageHosts(1, 'ship-big') } },
        });
        const r = await runShip(BIN, ['deploy', 'big'], bigProject);
        big = { ms: r.ms, rss: r.rss, bytes: r.bytes, files: Math.round(BIG_MB) };
      } catch (e) {
        big = { error: (e as Error).message.split('\n').slice(0, 6).join('\n') };
      } finally {
        rm(bigProject);
        rm(bigRoot);
      }
    }

    extra.push(
      `build: ${shape.files} files, ${(shape.bytes / 1e6).toFixed(1)} MB (${(shape.text * 100).toFixed(0)}% of the bytes text), ${shape.dirs} dirs` +
        `${process.env.BENCH_BUILD ? ` (from ${process.env.BENCH_BUILD})` : ', generated (seeded)'}; ${RUNS} run(s) per case, ${ROLLBACK_RUNS} per rollback; medians`,
      `file ctime resolution here: ${res.toFixed(2)} ms (switch skew is read from ctimes)`,
    );
  } finally {
    await ssh?.stop();
    rm(tmp);
  }
  report(rows, version, big, extra, performance.now() - t0);
}

/**
 * Four servers at once, then the rest one by one (many sshd starting together on a busy
 * 2-core machine can miss the harness's banner deadline); a start that fails is retried.
 */
async function startHosts(n: number): Promise<SshHosts> {
  const ssh = await startSshHosts(Math.min(4, n));
  try {
    for (let i = ssh.hosts.length + 1; i <= n; i++) {
      for (let attempt = 0; ; attempt++) {
        try {
          ssh.hosts.push(await ssh.startExtra(attempt ? `host${i}-${attempt}` : `host${i}`, { knownHosts: 'listed' }));
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
        }
      }
    }
  } catch (e) {
    await ssh.stop();
    throw e;
  }
  return ssh;
}

function describe(dir: string): { files: number; bytes: number; text: number; dirs: number } {
  let files = 0;
  let bytes = 0;
  let text = 0;
  let dirs = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        dirs++;
        walk(p);
      } else if (e.isFile()) {
        const s = statSync(p).size;
        files++;
        bytes += s;
        if (/\.(js|cjs|mjs|json|ts|map|css|md|txt|html)$/.test(e.name)) text += s;
      }
    }
  };
  walk(dir);
  return { files, bytes, text: bytes ? text / bytes : 0, dirs };
}

const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');
function size(b: number): string {
  if (!Number.isFinite(b)) return '—';
  if (b < 1024) return `${Math.round(b)} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KB`;
  return `${(b / 1048576).toFixed(1)} MB`;
}
const pad = (s: string, n: number, left = false) => (left ? s.padEnd(n) : s.padStart(n));

function report(
  rows: Row[],
  version: number[],
  big: { ms: number; rss: number; bytes: number; files: number } | { error: string } | undefined,
  extra: string[],
  elapsed: number,
): void {
  const m = (xs: number[]) => median(xs);
  const shipMs = (r: Row) => m(r.ship.map((x) => x.ms));
  const out: string[] = [];
  out.push('', `ship beside tar|ssh and rsync over real sshd on 127.0.0.1 (${new Date().toISOString()})`, ...extra.map((e) => `  ${e}`), '');
  const head = [
    pad('case', 30, true),
    pad('hosts', 5),
    pad('tar|ssh', 9),
    pad('rsync', 9),
    pad('ship', 9),
    pad('ship/tar', 9),
    pad('ship/rsync', 11),
    pad('sent/host: tar', 15),
    pad('rsync', 9),
    pad('ship', 9),
    pad('ship RSS', 9),
  ].join(' ');
  out.push(head, '-'.repeat(head.length));
  for (const r of rows) {
    const rollback = r.case === 'rollback';
    const cells = [
      pad(rollback ? 'rollback (tar|ssh: ssh mv -T)' : CASE_LABEL[r.case], 30, true),
      pad(String(r.hosts), 5),
      pad(sec(m(r.base.map((x) => x.ms))), 9),
      pad(rollback ? '' : sec(m(r.rsync.map((x) => x.ms))), 9),
      pad(sec(shipMs(r)), 9),
      pad(ratio(shipMs(r), m(r.base.map((x) => x.ms))), 9),
      pad(rollback ? '' : ratio(shipMs(r), m(r.rsync.map((x) => x.ms))), 11),
      pad(rollback ? '' : size(m(r.base.map((x) => x.bytes))), 15),
      pad(rollback ? '' : size(m(r.rsync.map((x) => x.bytes))), 9),
      pad(rollback ? '' : size(m(r.ship.map((x) => x.bytes))), 9),
      pad(size(Math.max(...r.ship.map((x) => x.rss))), 9),
    ];
    out.push(cells.join(' ') + (r.error ? `   ERROR: ${r.error.split('\n')[0]}` : ''));
  }
  out.push('', `ship --version: ${sec(m(version))} (median of ${version.length})`);
  if (big) {
    if ('error' in big) out.push(`big build: ERROR ${big.error}`);
    else out.push(`big build, 1 host: ${big.files} files of 1 MB (sparse), ${sec(big.ms)}, ${size(big.bytes)} sent, ship peak RSS ${size(big.rss)}`);
  }
  const skews = rows.filter((r) => r.hosts === 4);
  const shipSkew = skews.flatMap((r) => r.skew);
  const baseSkew = skews.flatMap((r) => r.baseSkew);
  out.push(
    `switch skew over 4 hosts (ctime of current): ship median ${m(shipSkew).toFixed(1)} ms, max ${Math.max(...shipSkew).toFixed(1)} ms (${shipSkew.length} runs); ` +
      `tar|ssh / ssh flips median ${m(baseSkew).toFixed(1)} ms`,
  );

  out.push('', 'ship steps, ms (run of median time):');
  for (const r of rows) {
    if (!r.ship.length) continue;
    const s = [...r.ship].sort((a, b) => a.ms - b.ms)[Math.floor(r.ship.length / 2)];
    const steps = Object.entries((s.summary.steps ?? {}) as Record<string, number>)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(`  ${CASE_LABEL[r.case]}, ${r.hosts}: wall ${Math.round(s.ms)}, in ship ${s.summary.ms}: ${steps}`);
  }

  // Targets of the issue, with pass/fail marks.
  const row = (c: Case, n: number) => rows.find((r) => r.case === c && r.hosts === n);
  const vs = (c: Case, n: number, base: 'base' | 'rsync') => {
    const r = row(c, n);
    return r ? shipMs(r) / m(r[base].map((x) => x.ms)) : NaN;
  };
  const targets: Array<[string, number, number, (v: number) => string]> = [];
  const x = (v: number) => `${v.toFixed(2)}×`;
  const le = (name: string, v: number, limit: number, fmt = x) => targets.push([name, v, limit, fmt]);
  le('full, 1 host: ship / tar|ssh', vs('full', 1, 'base'), 1.1);
  le('full, 4 hosts: ship / tar|ssh', vs('full', 4, 'base'), 0.9);
  le('incremental (1 file), 1 host: ship / rsync', vs('incremental', 1, 'rsync'), 0.6);
  le('incremental (1 file), 4 hosts: ship / rsync', vs('incremental', 4, 'rsync'), 0.6);
  for (const n of [1, 4]) {
    const r = row('incremental', n);
    le(`incremental (1 file), ${n} host${n > 1 ? 's' : ''}: sent per host`, r ? m(r.ship.map((s) => s.bytes)) : NaN, 64 * 1024, size);
  }
  le('after a rebuild, 1 host: ship / rsync', vs('rebuild', 1, 'rsync'), 1.0);
  le('after a rebuild, 4 hosts: ship / rsync', vs('rebuild', 4, 'rsync'), 1.0);
  le('cold deployer, 1 host: ship / rsync', vs('cold', 1, 'rsync'), 1.0);
  le('cold deployer, 4 hosts: ship / rsync', vs('cold', 4, 'rsync'), 1.0);
  le('rollback, 1 host: ship / bare ssh flip', vs('rollback', 1, 'base'), 2.0);
  le('rollback, 4 hosts: ship / bare ssh flips', vs('rollback', 4, 'base'), 1.5);
  le('ship --version', m(version), 250, sec);
  const fleet = rows.find((r) => r.case === 'incremental' && r.hosts > 4);
  const one = row('incremental', 1);
  if (fleet && one) le(`incremental, ${fleet.hosts} hosts / 1 host (ship)`, shipMs(fleet) / shipMs(one), 3.0);
  le('switch skew, 4 hosts (median)', m(shipSkew), 15, (v) => `${v.toFixed(1)} ms`);
  const rss100 = Math.max(...rows.flatMap((r) => r.ship.map((s) => s.rss)));
  le('peak RSS, the build above (max of all runs)', rss100, 150 * 1048576, size);
  if (big && !('error' in big)) le(`peak RSS, ${big.files} MB build (1 host)`, big.rss, 150 * 1048576, size);
  out.push('', 'targets:');
  for (const [name, v, limit, fmt] of targets) {
    const mark = !Number.isFinite(v) ? '  n/a' : v <= limit ? ' PASS' : ' FAIL';
    out.push(`  ${pad(name, 48, true)} ${pad(Number.isFinite(v) ? fmt(v) : '—', 10)}  ${pad(`≤ ${fmt(limit)}`, 10, true)}${mark}`);
  }
  out.push('', `bench took ${sec(elapsed)}`);
  console.log(out.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

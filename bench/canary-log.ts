/**
 * Peak memory of the deployer while the weighted canary judges one window of the router's
 * access log (docs/blue-green.md, "The weighted canary and how the gates read"): LINES lines (1,000,000 by default,
 * ~51 MB) on a real sshd host, read over SSH and judged, each variant in a fresh node
 * process whose peak RSS (getrusage maxrss) is printed.
 *
 *   node --import tsx bench/canary-log.ts                  # this checkout (and a bare baseline)
 *   BASE_SRC=/path/to/other-checkout node --import tsx bench/canary-log.ts   # and that one's
 *
 * BASE_SRC is a checkout whose src/colors/router.ts still has `fileSize`/`readSince` (the
 * reader that took the whole window as one string): its variant does what its walk.ts
 * did per window (readSince, then colorFigures and a second pass collecting every entry).
 * Env: LINES (1000000).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostRun } from '../src/context.js';
import { SshTransport } from '../src/transport/ssh.js';
import { startSshHosts } from '../test/harness/sshd.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const ports = { blue: 3001, green: 3002 };
const gates = { errorRate: 0.5, p95: 1.5, minRequests: 50 };
const self = fileURLToPath(import.meta.url);

interface ChildArgs {
  mode: 'baseline' | 'after' | 'before';
  file: string;
  base?: string;
  ssh: { host: string; port: number; user: string; privateKey: string; knownHosts: string };
}

/** One variant, in its own process: connect, read the whole log as one window, judge, report. */
async function child(a: ChildArgs): Promise<void> {
  const t = new SshTransport({ name: 'web1', host: a.ssh.host, port: a.ssh.port, user: a.ssh.user, privateKey: a.ssh.privateKey, agent: false, knownHosts: [a.ssh.knownHosts], strictHostKeyChecking: 'yes' });
  await t.connect();
  const h = { name: 'web1', t } as unknown as HostRun;
  const t0 = Date.now();
  let out: unknown = null;
  if (a.mode === 'after') {
    const { readWindow } = await import('../src/colors/access-log.js');
    const g = await import('../src/colors/gates.js');
    const tallies = g.newTallies();
    // A window that began when the log was empty: every line is new.
    const cursor = { file: a.file, inode: '', offset: 0 };
    const read = await readWindow(h, cursor, ports, tallies);
    const fresh = tallies.green.figures();
    const old = tallies.blue.figures();
    out = { read, verdict: g.judge(fresh, old, gates, true), fresh, old };
  } else if (a.mode === 'before') {
    const router = await import(path.join(a.base!, 'src/colors/router.ts'));
    const g = await import(path.join(a.base!, 'src/colors/gates.ts'));
    // What that checkout's walk.ts readFigures did for one host, from offset 0.
    const text: string = await router.readSince(h, a.file, 0);
    const per = g.colorFigures(text, ports);
    const fresh: unknown[] = [];
    const old: unknown[] = [];
    for (const line of text.split('\n')) {
      const e = g.parseLine(line);
      const port = e && Number(/:(\d+)$/.exec(e.upstream)?.[1]);
      if (!e) continue;
      if (port === ports.green) fresh.push(e);
      else if (port === ports.blue) old.push(e);
    }
    const f = g.figures(fresh);
    const o = g.figures(old);
    out = { per: per.green.requests, verdict: g.judge(f, o, gates, true), fresh: f, old: o };
  }
  const ms = Date.now() - t0;
  await t.close();
  process.stdout.write(`${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, ms, out })}\n`);
}

/** LINES lines of the access log, 9 in 10 on the old color (blue), 1 in 50 of the new one's a 500. */
function writeLog(file: string): void {
  const fd = openSync(file, 'w');
  let buf = '';
  for (let i = 0; i < LINES; i++) {
    const green = i % 10 === 0;
    const status = green && i % 500 === 0 ? 500 : 200;
    buf += `2026-11-30T05:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}+00:00 127.0.0.1:${green ? ports.green : ports.blue} ${status} 0.${String(i % 1000).padStart(3, '0')}\n`;
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
}

async function main(): Promise<void> {
  const ssh = await startSshHosts(1);
  const host = ssh.hosts[0];
  const dir = path.join(host.deployRoot, 'bench-canary-log');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'access.log');
  try {
    writeLog(file);
    const size = statSync(file).size;
    process.stdout.write(`access log: ${LINES.toLocaleString('en')} lines, ${(size / 1e6).toFixed(1)} MB, one window, over real sshd\n`);
    const modes: ChildArgs['mode'][] = ['baseline', 'after', ...(process.env.BASE_SRC ? (['before'] as const) : [])];
    for (const mode of modes) {
      const args: ChildArgs = { mode, file, base: process.env.BASE_SRC, ssh: { host: host.host, port: host.port, user: host.user, privateKey: ssh.privateKey, knownHosts: ssh.knownHosts } };
      const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      let res: { maxRssKiB: number; ms: number; out: any } | undefined;
      try {
        res = JSON.parse(last);
      } catch {
        /* the child died */
      }
      const name = { baseline: 'baseline (connect only)', after: 'this checkout (chunked reader)', before: `${process.env.BASE_SRC} (whole window as one string)` }[mode];
      if (!res) {
        process.stdout.write(`  ${name}: failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n`);
        continue;
      }
      const v = res.out?.verdict;
      const figs = res.out ? ` — new ${res.out.fresh.requests} req / ${res.out.fresh.errors} 5xx, p95 ${res.out.fresh.p95} s; old ${res.out.old.requests} req, p95 ${res.out.old.p95} s; verdict ${v?.ok ? 'pass' : v?.gate}` : '';
      process.stdout.write(`  ${name}: peak RSS ${(res.maxRssKiB / 1024).toFixed(0)} MiB, ${res.ms} ms${figs}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ssh.stop();
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) {
  child(JSON.parse(process.argv[i + 1]) as ChildArgs).catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}

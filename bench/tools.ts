/**
 * What the bench runs beside ship: the public tools a user would script by hand
 * (OpenSSH's ssh, GNU tar, rsync), and ship itself under /usr/bin/time for its peak RSS.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SshHost, SshHosts } from '../test/harness/sshd.js';

export interface Run {
  ms: number;
  /** Bytes sent to each host (mean over the hosts of the run). */
  bytes: number;
}

export interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program to its end; never rejects on a non-zero exit. */
export function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

async function must(p: Promise<Proc>, what: string): Promise<Proc> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r;
}

/** `ssh` options for a harness host: its key, its known_hosts, strict checking, no user config. */
export function sshArgs(ssh: SshHosts, h: SshHost): string[] {
  return [
    '-F', '/dev/null',
    '-i', ssh.privateKey,
    '-p', String(h.port),
    '-o', `UserKnownHostsFile=${ssh.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-o', 'ControlMaster=no',
  ];
}

const q = (s: string) => `'${s.replace(/'/g, `'"'"'`)}'`;
const target = (h: SshHost) => `${h.user}@${h.host}`;

/** The flip every baseline ends with: a temp symlink renamed over `current`. */
function flipScript(root: string, id: string): string {
  return `cd ${q(root)} && ln -s ${q(`releases/${id}`)} .current.tmp-${id} && mv -T .current.tmp-${id} current`;
}

/** Each host's flip, all in parallel (one ssh each): a bare rollback, or the end of a deploy. */
export async function sshFlip(ssh: SshHosts, hosts: SshHost[], rootOf: (h: SshHost) => string, id: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all(hosts.map((h) => must(exec('ssh', [...sshArgs(ssh, h), target(h), flipScript(rootOf(h), id)]), `ssh flip on ${h.name}`)));
  return performance.now() - t0;
}

/**
 * `tar -c | ssh host 'tar -x -C releases/<id>'` to every host in parallel, then the
 * flip on every host (all-at-once, as ship does). Bytes: what went through the pipe.
 */
export async function tarDeploy(ssh: SshHosts, hosts: SshHost[], rootOf: (h: SshHost) => string, build: string, id: string): Promise<Run> {
  const t0 = performance.now();
  const sent = await Promise.all(
    hosts.map(async (h) => {
      const rel = `${rootOf(h)}/releases/${id}`;
      const sshCmd = ['ssh', ...sshArgs(ssh, h), target(h), `mkdir -p ${q(rel)} && tar -xf - -C ${q(rel)}`].map(q).join(' ');
      const r = await must(exec('bash', ['-o', 'pipefail', '-c', `tar -C ${q(build)} --totals -cf - . | ${sshCmd}`]), `tar | ssh to ${h.name}`);
      return Number(/Total bytes written: (\d+)/.exec(r.stderr)?.[1] ?? NaN);
    }),
  );
  await sshFlip(ssh, hosts, rootOf, id);
  return { ms: performance.now() - t0, bytes: mean(sent) };
}

/**
 * `rsync -a --link-dest=<previous release> build/ host:releases/<id>/` to every host in
 * parallel, then the flip. Bytes: rsync's own `Total bytes sent` (--stats).
 */
export async function rsyncDeploy(
  ssh: SshHosts,
  hosts: SshHost[],
  rootOf: (h: SshHost) => string,
  build: string,
  id: string,
  prev: string | undefined,
): Promise<Run> {
  const t0 = performance.now();
  const sent = await Promise.all(
    hosts.map(async (h) => {
      const rel = `${rootOf(h)}/releases/${id}/`;
      const e = ['ssh', ...sshArgs(ssh, h)].map(q).join(' ');
      const args = ['-a', '--stats', '--mkpath', '-e', e, ...(prev ? [`--link-dest=${rootOf(h)}/releases/${prev}`] : []), `${build}/`, `${target(h)}:${rel}`];
      const r = await must(exec('rsync', args), `rsync to ${h.name}`);
      return Number((/Total bytes sent: ([\d,.]+)/.exec(r.stdout)?.[1] ?? 'NaN').replace(/,/g, ''));
    }),
  );
  await sshFlip(ssh, hosts, rootOf, id);
  return { ms: performance.now() - t0, bytes: mean(sent) };
}

export interface ShipResult extends Run {
  /** Peak resident set of the ship process, in bytes. */
  rss: number;
  summary: Record<string, any>;
  events: Array<Record<string, any>>;
}

const TIME = '/usr/bin/time';

/** `node bin/ship.js <args> --json` in `cwd`, timed from spawn to exit, with its peak RSS. */
export async function runShip(bin: string, args: string[], cwd: string): Promise<ShipResult> {
  const env = { ...process.env, CI: 'true', FORCE_COLOR: '0' };
  const argv = [bin, ...args, '--json'];
  let r: Proc;
  let rss = NaN;
  if (existsSync(TIME)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ship-bench-time-'));
    const out = path.join(dir, 'rss');
    try {
      r = await exec(TIME, ['-f', '%M', '-o', out, process.execPath, ...argv], { cwd, env });
      rss = Number(readFileSync(out, 'utf8').trim().split('\n').pop()) * 1024;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    r = await execPolling(process.execPath, argv, cwd, env, (kb) => (rss = Math.max(rss || 0, kb * 1024)));
  }
  const events = r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return { type: 'unparsed', line: l };
      }
    });
  const summary = events.at(-1) ?? {};
  if (r.code !== 0 || summary.type !== 'summary') throw new Error(`ship ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  const hosts = (summary.hosts as string[] | undefined)?.length || 1;
  return { ms: r.ms, bytes: (summary.bytesSent ?? 0) / hosts, rss, summary, events };
}

/** Without GNU time: polls VmHWM (the peak RSS the kernel keeps) of the child while it runs. */
function execPolling(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, peak: (kb: number) => void): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak(Number(m[1]));
      } catch {
        /* exited */
      }
    }, 20);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/**
 * Switch skew: the spread of the moments `current` was renamed on each host, read from
 * the ctime of each host's `current` symlink (rename(2) sets it; the hosts share this
 * machine's clock). Resolution: the kernel's file time granularity (see ctimeResolution).
 */
export function switchSkewMs(roots: string[]): number {
  const ns = roots.map((r) => lstatSync(path.join(r, 'current'), { bigint: true }).ctimeNs);
  const min = ns.reduce((a, b) => (b < a ? b : a));
  const max = ns.reduce((a, b) => (b > a ? b : a));
  return Number(max - min) / 1e6;
}

/** The smallest step between file ctimes on this file system (coarse kernel clock), in ms. */
export async function ctimeResolution(dir: string): Promise<number> {
  const { symlinkSync, renameSync } = await import('node:fs');
  const seen = new Set<bigint>();
  const t0 = performance.now();
  let i = 0;
  while (performance.now() - t0 < 60 || i < 200) {
    const p = path.join(dir, `.res-${i++}`);
    symlinkSync('x', p);
    renameSync(p, path.join(dir, '.res'));
    seen.add(lstatSync(path.join(dir, '.res'), { bigint: true }).ctimeNs);
  }
  rmSync(path.join(dir, '.res'), { force: true });
  const v = [...seen].sort((a, b) => (a < b ? -1 : 1));
  let best = Infinity;
  for (let j = 1; j < v.length; j++) best = Math.min(best, Number(v[j] - v[j - 1]) / 1e6);
  return best;
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

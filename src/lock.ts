import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import type { Ctx, HostRun } from './context.js';
import { forEachHost } from './context.js';
import { LockedError, LockLostError, ShipError } from './errors.js';
import { privateMeta } from './host-state.js';
import { fmtMs } from './reporters/format.js';
import { sh } from './shell.js';
import { FileExistsError } from './transport/types.js';

/**
 * `.ship/lock` on each host: who holds it, and a random token only the holder knows.
 * The lock file's modification time is the holder's heartbeat, on the host's own clock
 * (so the clocks of the deployers' machines never matter): the holder touches the file
 * every few seconds while it runs. A lock that beat less than `lock.staleAfter` ago is
 * live; an older one is stale (its run died without unlocking).
 */
export interface LockInfo {
  user: string;
  host: string;
  pid: number;
  command: string;
  startedAt: string;
  release?: string;
  token?: string;
  /** The deployer's boot id (/proc/sys/kernel/random/boot_id) when the lock was taken. */
  bootId?: string;
  /** The holder's process start time (field 22 of /proc/<pid>/stat, ticks since boot). */
  pidStart?: string;
  /** The holder's PID namespace (/proc/self/ns/pid): containers on one kernel share the boot id, not their pids. */
  pidNs?: string;
}

/** A lock as read from a host, with its heartbeat age. */
export interface HeldLock extends LockInfo {
  /** Seconds since the holder last beat (host clock); undefined when unknown. */
  ageSec?: number;
  stale: boolean;
  /** Its holder ran on this machine, since this boot, and its process is gone. */
  dead: boolean;
}

/** This machine's boot id, or undefined where there is none to read (not Linux). */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This process's PID namespace, or undefined where there is none to read. */
function pidNs(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** When process `pid` started (ticks since boot), or undefined when there is no such process. */
function pidStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The holder ran on this machine (same host name, boot id and PID namespace) and its
 * process is gone (no such pid, or a pid reused by a process that started at another
 * time): a run killed with SIGKILL. A lock without these fields (an older ship) is never dead.
 * See docs/locks.md, "A dead holder".
 */
export function holderGone(l: Partial<LockInfo>): boolean {
  if (!l.bootId || !l.pidStart || !l.pidNs || !l.pid || l.host !== os.hostname() || l.bootId !== bootId() || l.pidNs !== pidNs()) return false;
  return pidStart(l.pid) !== l.pidStart;
}

/** A lock plain `ship unlock` clears: stale, or its holder is gone. */
export function clearable(l: HeldLock): boolean {
  return l.stale || l.dead;
}

export function describeLock(l: Partial<LockInfo>): string {
  return `${l.user ?? '?'}@${l.host ?? '?'} pid ${l.pid ?? '?'} (${l.command ?? '?'}) since ${l.startedAt ?? '?'}`;
}

/** "last heartbeat 4s ago" (or "stale: last heartbeat 12m ago", "dead: its process is gone, …"). */
export function describeBeat(l: HeldLock): string {
  const age = l.ageSec === undefined ? 'at an unknown time' : `${ageText(l.ageSec)} ago`;
  return `${l.dead ? 'dead: its process is gone on this machine, ' : l.stale ? 'stale: ' : ''}last heartbeat ${age}`;
}

function ageText(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${sec % 60 ? `${sec % 60}s` : ''}`;
  return `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m`;
}

/** The lock as shown to users: without its token. */
export function publicLock(l: HeldLock): Omit<HeldLock, 'token'> & { holder: string; heartbeat: string } {
  const { token: _token, ...rest } = l;
  return { ...rest, holder: describeLock(l), heartbeat: describeBeat(l) };
}

/** The run's lease: one token for all its locks, and the heartbeat timer. */
interface Lease {
  token: string;
  timer?: NodeJS.Timeout;
  beating: boolean;
  /** Hosts where the heartbeat found the token gone. */
  lost: Map<HostRun, string>;
}

const leases = new WeakMap<Ctx, Lease>();

function leaseOf(ctx: Ctx): Lease {
  let l = leases.get(ctx);
  if (!l) {
    l = { token: randomBytes(16).toString('hex'), beating: false, lost: new Map() };
    leases.set(ctx, l);
  }
  return l;
}

/** How often a holder beats: often enough that a live lock never looks stale. */
export function beatEveryMs(staleAfterMs: number): number {
  return Math.max(250, Math.min(5000, Math.floor(staleAfterMs / 4)));
}

/**
 * The shortest `lock.staleAfter`: 10 s, and never less than four beats, so that a slow
 * beat or two never make a live lock look stale (docs/locks.md, "The lock").
 */
export function staleAfterFloorMs(staleAfterMs: number): number {
  return Math.max(10_000, 4 * beatEveryMs(staleAfterMs));
}

/**
 * How long one beat may take on a host: a beat that hangs (a stuck connection, a lock
 * file that blocks) is given up after this, and the next beat tries again; a hung beat
 * never stalls the heartbeat.
 */
export function beatTimeoutMs(staleAfterMs: number): number {
  return Math.max(1000, Math.floor(staleAfterMs / 4));
}

/**
 * The lock on a host, or undefined when there is none. One command on the host reads
 * the file, its modification time and the host's clock together.
 */
export async function readLock(h: HostRun, staleAfterMs = 120_000): Promise<HeldLock | undefined> {
  const f = h.paths.lock;
  const r = await h.t.exec(sh`if [ -f ${f} ]; then printf '%s %s\\n' "$(stat -c %Y -- ${f} 2>/dev/null)" "$(date +%s)"; cat -- ${f}; fi`, { readOnly: true });
  if (r.code !== 0) throw new ShipError(`${h.name}: cannot read the lock ${f}: ${r.stderr.trim() || `exit ${r.code}`}`, { host: h.name, reason: 'lock' });
  if (!r.stdout.trim()) return undefined;
  const nl = r.stdout.indexOf('\n');
  const [mtime, now] = r.stdout.slice(0, nl).trim().split(' ').map(Number);
  const ageSec = Number.isFinite(mtime) && Number.isFinite(now) && mtime > 0 ? Math.max(0, now - mtime) : undefined;
  let info: LockInfo;
  try {
    info = JSON.parse(r.stdout.slice(nl + 1)) as LockInfo;
  } catch {
    info = { user: '?', host: '?', pid: 0, command: 'unreadable lock file', startedAt: '?' };
  }
  if (!info || typeof info !== 'object') info = { user: '?', host: '?', pid: 0, command: 'unreadable lock file', startedAt: '?' };
  return { ...info, ageSec, stale: ageSec !== undefined && ageSec * 1000 > staleAfterMs, dead: holderGone(info) };
}

function lockedError(ctx: Ctx, h: HostRun, l: HeldLock | undefined): LockedError {
  if (!l) return new LockedError(h.name, 'another run');
  const holder = `${describeLock(l)}, ${describeBeat(l)}`;
  const hint = l.dead
    ? `its run's process is gone; clear it with: ship unlock ${ctx.stage.name}`
    : l.stale
    ? `its run stopped beating more than ${fmtMs(ctx.stage.lock.staleAfterMs)} ago; clear it with: ship unlock ${ctx.stage.name}`
    : 'that run is alive: wait for it, or pass --lock-wait <seconds>';
  return new LockedError(h.name, holder, { hint });
}

async function takeOne(ctx: Ctx, h: HostRun): Promise<void> {
  const lease = leaseOf(ctx);
  const info: LockInfo = {
    user: ctx.user,
    host: os.hostname(),
    pid: process.pid,
    command: `${ctx.command} ${ctx.stage.name}`,
    startedAt: new Date().toISOString(),
    release: ctx.release,
    token: lease.token,
    bootId: bootId(),
    pidStart: pidStart(process.pid),
    pidNs: pidNs(),
  };
  // A host with history has .ship/ already: one round trip less. The deploy root is made
  // as any directory (its errors name the path); .ship/ in it 0700 (docs/security.md,
  // "Output and history").
  if (!h.history.length) {
    await h.t.mkdirp(h.root);
    await privateMeta(ctx, h);
  }
  try {
    await h.t.writeFile(h.paths.lock, `${JSON.stringify(info)}\n`, { exclusive: true });
    h.lockHeld = true;
  } catch (e) {
    if (!(e instanceof FileExistsError)) throw e;
    throw lockedError(ctx, h, await readLock(h, ctx.stage.lock.staleAfterMs).catch(() => undefined));
  }
}

/**
 * Removes the lock at `f` only if it holds `token`. The lock is first renamed aside
 * (atomic), then checked: a lock that is not ours is never deleted. The one window
 * left: a foreign lock created between the check and the rename (a forced unlock and a
 * new lock inside those microseconds) is moved aside too; it is then put back with
 * link(2), which never replaces a lock that appeared meanwhile.
 * Exit 0: removed; 3: not ours (left alone); 4: there was no lock.
 */
export function removeIfOurs(f: string, token: string) {
  const aside = `${f}.release-${token}`;
  return sh`[ -f ${f} ] || exit 4
grep -qF -- ${token} ${f} || exit 3
mv -f -- ${f} ${aside} || exit 1
if grep -qF -- ${token} ${aside}; then rm -f -- ${aside}; exit 0; fi
ln -- ${aside} ${f} 2>/dev/null; rm -f -- ${aside}; exit 3`;
}

/** Releases the locks this run took, and only those: a lock with another token stays. */
export async function releaseLocks(ctx: Ctx): Promise<void> {
  const lease = leases.get(ctx);
  stopHeartbeat(ctx);
  await Promise.all(
    ctx.hosts
      .filter((h) => h.lockHeld)
      .map(async (h) => {
        try {
          const r = lease ? await h.t.exec(removeIfOurs(h.paths.lock, lease.token)) : { code: 0, stderr: '' };
          if (r.code === 3) ctx.events.warn(`the lock there is no longer this run's: left it alone`, h.name);
          else if (r.code !== 0 && r.code !== 4) throw new Error(r.stderr.trim() || `exit ${r.code}`);
          h.lockHeld = false;
        } catch (e) {
          ctx.events.warn(`could not remove the lock ${h.paths.lock}: ${(e as Error).message}`, h.name);
        }
      }),
  );
}

/** Touches every held lock whose token is still ours; notes hosts where it is gone. */
async function beat(ctx: Ctx, lease: Lease): Promise<void> {
  if (lease.beating) return;
  lease.beating = true;
  try {
    await Promise.all(
      ctx.hosts
        .filter((h) => h.lockHeld && !lease.lost.has(h))
        .map(async (h) => {
          const f = h.paths.lock;
          const limit = beatTimeoutMs(ctx.stage.lock.staleAfterMs);
          const r = await withDeadline(h.t.exec(sh`grep -qF -- ${lease.token} ${f} 2>/dev/null && touch -c -- ${f}`, { timeoutMs: limit }), limit + 1000).catch(() => undefined);
          if (r === TIMED_OUT || (r && r.code === null)) {
            if (lease.timer) ctx.events.warn(`a heartbeat got no answer within ${fmtMs(limit)}: the next one tries again`, h.name);
            return;
          }
          if (!r || r.code === 0 || !leases.has(ctx) || !lease.timer) return; // a lost connection is noticed elsewhere
          const why = (await h.t.stat(f).catch(() => null)) ? 'the lock now belongs to another run' : 'the lock was removed';
          lease.lost.set(h, why);
          ctx.events.warn(`${why}: this run stops before its next change`, h.name);
        }),
    );
  } finally {
    lease.beating = false;
  }
}

const TIMED_OUT = Symbol('timed out');

/** `p`, or TIMED_OUT once `ms` passed (the command's own timeout may never fire: a channel that never opened). */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((r) => {
    timer = setTimeout(() => r(TIMED_OUT), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function startHeartbeat(ctx: Ctx): void {
  const lease = leaseOf(ctx);
  if (lease.timer) return;
  lease.timer = setInterval(() => void beat(ctx, lease), beatEveryMs(ctx.stage.lock.staleAfterMs));
  lease.timer.unref();
}

function stopHeartbeat(ctx: Ctx): void {
  const lease = leases.get(ctx);
  if (lease?.timer) clearInterval(lease.timer);
  if (lease) lease.timer = undefined;
}

/**
 * The lease check: every lock this run took (on `hosts`; all by default) still carries
 * its token, else a LockLostError (exit 3). The one check before every change a run
 * makes: each step's work (runner), each flip of `current` or `next` (flip.ts), each
 * router change of two colors (steps/route.ts, colors/walk.ts) and each backfill batch
 * and its ledger line (migrations/backfill-run.ts). See docs/locks.md, "A run that lost
 * its lock".
 */
export async function ensureLocks(ctx: Ctx, hosts: HostRun[] = ctx.hosts): Promise<void> {
  const lease = leases.get(ctx);
  if (!lease) return; // no lock taken (a dry run takes none)
  const held = hosts.filter((h) => h.lockHeld);
  for (const [h, why] of lease.lost) if (held.includes(h)) throw new LockLostError(h.name, why);
  await Promise.all(
    held.map(async (h) => {
      // A file read (SFTP, or the local file system): no process started on the host.
      const text = (await h.t.readFile(h.paths.lock))?.toString('utf8');
      if (text?.includes(lease.token)) return;
      lease.lost.set(h, text === undefined ? 'the lock was removed' : 'the lock now belongs to another run');
    }),
  );
  for (const [h, why] of lease.lost) if (held.includes(h)) throw new LockLostError(h.name, why);
}

/** The hosts of `hosts` whose lock is still this run's (all of them when no lock was taken). */
export async function stillLocked(ctx: Ctx, hosts: HostRun[]): Promise<HostRun[]> {
  const lease = leases.get(ctx);
  if (!lease) return hosts;
  await ensureLocks(ctx, hosts).catch(() => {});
  const out = hosts.filter((h) => !lease.lost.has(h));
  for (const h of hosts) if (lease.lost.has(h)) ctx.events.warn(`not reverted: ${lease.lost.get(h)}`, h.name);
  return out;
}

/**
 * Locks every host: the first by name alone, then the rest in parallel, so that of two
 * runs over the same hosts exactly one proceeds. With --lock-wait, a refused run lets
 * go of everything, waits, and starts again from the first host; Ctrl-C ends the wait.
 */
export async function lockAll(ctx: Ctx): Promise<void> {
  const ordered = [...ctx.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const deadline = Date.now() + (ctx.opts.lockWait ?? 0) * 1000;
  let announced = false;
  for (;;) {
    try {
      await takeOne(ctx, ordered[0]);
      if (ordered.length > 1) await forEachHost(ctx, 'lock', ordered.slice(1), (h) => takeOne(ctx, h));
      startHeartbeat(ctx);
      return;
    } catch (e) {
      await releaseLocks(ctx);
      if (!(e instanceof LockedError) || Date.now() >= deadline) throw e;
      if (!announced) ctx.events.log(`waiting up to ${ctx.opts.lockWait}s for ${e.holder} on ${e.host}`);
      announced = true;
      const until = Date.now() + Math.min(1000, Math.max(50, deadline - Date.now()));
      while (Date.now() < until && !ctx.interrupted) await new Promise((r) => setTimeout(r, 50));
      if (ctx.interrupted) {
        throw new LockedError(e.host!, e.holder, { message: `interrupted while waiting for the lock on ${e.host} (held by ${e.holder})`, hint: e.hint });
      }
    }
  }
}

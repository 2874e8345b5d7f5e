import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import type { Ctx, HostRun } from './context.js';
import { readLock } from './lock.js';
import { record } from './host-state.js';
import { releaseInfos, selectPrune } from './releases.js';
import { raw, sh, type Shell } from './shell.js';
import { isTimestampId } from './paths.js';
import { runningReleases } from './colors/router.js';
import { run } from './context.js';

/** Where pruned releases wait for their removal: outside releases/, so never listed or counted. */
export function trashDir(h: HostRun): string {
  return path.join(h.paths.meta, 'trash');
}

/** What pruning a host would remove: old releases, and stale .partial dirs. */
export interface PrunePlan {
  dirs: string[];
  doomed: string[];
  stale: string[];
}

/**
 * What `pruneHost` would remove, read from the host without changing it. `assumeLive`:
 * plan as if that release (a deploy's, not uploaded yet) were published and live, as a
 * dry run of a deploy does.
 */
export async function planPrune(h: HostRun, keep: number, assumeLive?: string): Promise<PrunePlan> {
  // A lock this run holds names nothing to spare; another run's lock (a dry run) may.
  const lock = h.lockHeld ? undefined : await readLock(h);
  // Releases a color runs (two-color mode) are in use, whatever their age.
  const locked = [...(lock?.release ? [lock.release] : []), ...(await runningReleases(h))];
  const dirs = await h.t.list(h.paths.releases);
  let history = h.history;
  let current = h.currentId;
  if (assumeLive && !dirs.includes(assumeLive)) {
    dirs.push(assumeLive);
    history = [...history, { time: '', action: 'switch', release: assumeLive, states: { [assumeLive]: 'active', ...(current ? { [current]: 'superseded' as const } : {}) } }];
    current = assumeLive;
  }
  const infos = releaseInfos(history, dirs, current);
  const doomed = selectPrune(infos, { keep, current, next: h.nextId, locked });
  // We hold the lock: a .partial here is a leftover of a killed run.
  const stale = dirs.filter((d) => d.endsWith('.partial') && isTimestampId(d.slice(0, -'.partial'.length))); // never a user's dir
  return { dirs, doomed, stale };
}

/**
 * Removes old releases (docs/architecture.md, Release states) and stale .partial dirs; returns what went.
 *
 * The run never waits for a big `rm -rf`: under the lock, each doomed directory is
 * renamed into `.ship/trash/` (one command per host, instant), and that command then
 * starts a detached `rm -rf` of everything in the trash, which outlives the run. A
 * removal that was cut short (a reboot) is finished by the next run that prunes.
 */
export async function pruneHost(ctx: Ctx, h: HostRun, keep: number): Promise<string[]> {
  const { dirs, doomed, stale } = await planPrune(h, keep);
  if (doomed.length || stale.length) {
    await discard(
      h,
      [...doomed, ...stale].map((d) => path.join(h.paths.releases, d)),
      doomed.map((d) => h.paths.manifest(d)),
      doomed.length ? `removing release${doomed.length > 1 ? 's' : ''} ${doomed.join(' ')}` : `removing ${stale.join(' ')}`,
    );
  }
  h.dirs = dirs.filter((d) => !doomed.includes(d) && !stale.includes(d));
  if (doomed.length) await record(ctx, h, { action: 'prune', removed: doomed });
  return doomed;
}

/**
 * In one command on the host: renames `dirs` into the trash, removes `files`, and
 * starts (detached, output discarded) the removal of everything in the trash. Only the
 * entries are removed, never the trash dir itself, so a later run can always move
 * into it while an earlier removal is still at work.
 */
export async function discard(h: HostRun, dirs: string[], files: string[], what: string): Promise<void> {
  const trash = trashDir(h);
  const tag = randomBytes(4).toString('hex');
  const steps: Shell[] = [sh`mkdir -p ${trash}`];
  // Entry names never start with a dot, so `*` below sees every one of them.
  for (const d of dirs) steps.push(sh`mv -- ${d} ${path.join(trash, `${path.basename(d)}-${tag}`)}`);
  if (files.length) steps.push(sh`rm -f -- ${files}`);
  const and = steps.flatMap((s, i) => (i ? [raw('&&'), s] : [s]));
  await run(h, sh`${and} && { nohup rm -rf -- ${trash}/* </dev/null >/dev/null 2>&1 & }`, what);
}

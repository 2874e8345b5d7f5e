import type { Ctx, HostRun } from './context.js';
import { readLock } from './lock.js';
import { record } from './host-state.js';
import { releaseInfos, selectPrune } from './releases.js';
import { sh } from './shell.js';
import { runningReleases } from './colors/router.js';
import { run } from './context.js';

/** Removes old releases (section 2, Pruning) and stale .partial dirs; returns what went. */
export async function pruneHost(ctx: Ctx, h: HostRun, keep: number): Promise<string[]> {
  const lock = await readLock(h);
  // Releases a color runs (two-color mode) are in use, whatever their age.
  const locked = [...(lock?.release && !h.lockHeld ? [lock.release] : []), ...(await runningReleases(h))];
  const dirs = await h.t.list(h.paths.releases);
  let history = h.history;
  let current = h.currentId;
  const id = ctx.release;
  if (ctx.opts.dryRun && ctx.command === 'deploy' && id && !dirs.includes(id)) {
    // What pruning would do once the new release is live.
    dirs.push(id);
    history = [...history, { time: '', action: 'switch', release: id, states: { [id]: 'active', ...(current ? { [current]: 'superseded' as const } : {}) } }];
    current = id;
  }
  const infos = releaseInfos(history, dirs, current);
  const doomed = selectPrune(infos, { keep, current, next: h.nextId, locked });
  // We hold the lock: a .partial here is a leftover of a killed run.
  const stale = dirs.filter((d) => d.endsWith('.partial'));
  if (ctx.opts.dryRun) return doomed;
  for (const id of doomed) {
    await run(h, sh`rm -rf -- ${h.paths.release(id)} ${h.paths.manifest(id)}`, `removing release ${id}`);
  }
  for (const d of stale) await run(h, sh`rm -rf -- ${h.paths.releases}/${d}`, `removing ${d}`);
  h.dirs = dirs.filter((d) => !doomed.includes(d) && !stale.includes(d));
  h.infos = releaseInfos(h.history, h.dirs, h.currentId);
  if (doomed.length) await record(ctx, h, { action: 'prune', removed: doomed });
  return doomed;
}

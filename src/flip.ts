import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import pLimit from 'p-limit';
import type { Ctx, HostRun } from './context.js';
import { forEachHost } from './context.js';
import { severity, ShipError, toShipError } from './errors.js';
import { record } from './host-state.js';
import { ensureLocks } from './lock.js';
import { hostReleases, leavingState, SWITCHABLE, type ReleaseState } from './releases.js';

/** A flip made ready on one host: its temporary symlink exists, nothing is live yet. */
export interface PreparedFlip {
  h: HostRun;
  id: string;
  which: 'current' | 'next';
  linkPath: string;
  tmp: string;
}

/**
 * The first half of a flip: checks that `link` is not a real file or directory and that
 * releases/<id> is there, and makes the new symlink under a temporary name in deployTo.
 * The three requests go out together (one round trip); on a failed check the temporary
 * link is removed again.
 */
export async function prepareFlip(h: HostRun, id: string, which: 'current' | 'next' = 'current'): Promise<PreparedFlip> {
  const linkPath = which === 'current' ? h.paths.current : h.paths.next;
  const tmp = path.join(h.root, `.${which}.tmp-${id}-${randomBytes(4).toString('hex')}`);
  const [existing, target, made] = await Promise.allSettled([h.t.stat(linkPath), h.t.stat(h.paths.release(id)), h.t.symlink(h.paths.linkTarget(id), tmp)]);
  const undo = async () => {
    if (made.status === 'fulfilled') await h.t.remove(tmp).catch(() => {});
  };
  if (existing.status === 'rejected') {
    await undo();
    throw existing.reason;
  }
  if (existing.value && existing.value.type !== 'symlink') {
    await undo();
    throw new ShipError(`${h.name}: ${linkPath} is a real ${existing.value.type === 'dir' ? 'directory' : 'file'}, not a symlink`, {
      host: h.name,
      reason: 'current-not-symlink',
      hint: 'ship never replaces it: move it aside, then run again',
    });
  }
  if (target.status === 'rejected' || target.value?.type !== 'dir') {
    await undo();
    if (target.status === 'rejected') throw target.reason;
    throw new ShipError(`${h.name}: release ${id} is not there (${h.paths.release(id)})`, { host: h.name, reason: 'release-missing' });
  }
  if (made.status === 'rejected') throw made.reason;
  return { h, id, which, linkPath, tmp };
}

/** The second half: the atomic rename over the link, then the link read back. */
export async function commitFlip(p: PreparedFlip, renamed?: Promise<void>): Promise<void> {
  const { h, id, which, linkPath, tmp } = p;
  try {
    await (renamed ?? h.t.rename(tmp, linkPath));
  } catch (e) {
    await h.t.remove(tmp).catch(() => {});
    throw e;
  }
  const now = await h.t.readlink(linkPath);
  if (now !== h.paths.linkTarget(id)) {
    throw new ShipError(`${h.name}: ${which} reads ${now ?? '(nothing)'} after the switch, expected ${h.paths.linkTarget(id)}`, { host: h.name, reason: 'switch-verify' });
  }
}

/**
 * Points `link` (current or next) at releases/<id> atomically: a new symlink under a
 * temporary name, renamed over the old one, then read back. Never `ln -sfn`.
 */
export async function flipLink(h: HostRun, id: string, which: 'current' | 'next' = 'current'): Promise<void> {
  await commitFlip(await prepareFlip(h, id, which));
}

/** Makes `id` live on a host and records the states that follow. */
export async function switchHost(ctx: Ctx, h: HostRun, id: string, action: 'switch' | 'rollback' = 'switch'): Promise<void> {
  const from = h.currentId;
  // The last guard for every command: only a release ship published goes live (or, on a
  // revert, the one that was live before this run).
  const state = hostReleases(h).find((r) => r.id === id)?.state;
  if (id !== h.switchedFrom && (!state || !SWITCHABLE.has(state))) {
    throw new ShipError(`${h.name}: ${id} is not a release ship published (state ${state ?? 'missing'}): not made live`, { host: h.name, reason: 'release-unknown' });
  }
  await ensureLocks(ctx, [h]); // the lease, right before the flip (docs/locks.md)
  await flipLink(h, id, 'current');
  await switched(ctx, h, id, from, action);
}

/** After a flip to `id` on a host: the run's view, the states in history, the `switch` event. */
async function switched(ctx: Ctx, h: HostRun, id: string, from: string | undefined, action: 'switch' | 'rollback'): Promise<void> {
  if (h.switchedFrom === undefined) h.switchedFrom = from ?? null;
  h.currentId = id;
  const states: Record<string, ReleaseState> = { [id]: 'active' };
  if (from && from !== id) states[from] = leavingState(from, id);
  await record(ctx, h, { action, release: id, previous: from, states });
  ctx.events.emit({ type: 'switch', host: h.name, release: id, previous: from });
}

/**
 * Flips `current` to each host's target on a whole batch, lined up so that every host
 * switches at the same moment: first every host gets ready (checks and its temporary
 * symlink); only when all are ready do the renames go out, all in the same instant;
 * then each host reads its link back and records the switch. A host that cannot get
 * ready flips nothing anywhere: the temporary links are removed and its error thrown.
 * Per-host `step` events as forEachHost gives them; `after` runs on each flipped host.
 */
export async function switchBatch(
  ctx: Ctx,
  hosts: HostRun[],
  action: 'switch' | 'rollback',
  after?: (h: HostRun) => Promise<string | void>,
): Promise<void> {
  const limit = pLimit(ctx.stage.concurrency);
  const t0 = Date.now();
  const ready = await Promise.allSettled(hosts.map((h) => limit(() => prepareFlip(h, h.target!, 'current'))));
  const failed = ready.flatMap((r, i) => (r.status === 'rejected' ? [{ h: hosts[i], e: toShipError(r.reason) }] : []));
  if (failed.length) {
    await Promise.all(ready.map((r) => (r.status === 'fulfilled' ? r.value.h.t.remove(r.value.tmp).catch(() => {}) : undefined)));
    for (const { h, e } of failed) ctx.events.emit({ type: 'step', step: 'switch', status: 'failed', host: h.name, ms: Date.now() - t0, message: e.message });
    throw failed.map((f) => f.e).sort((a, b) => severity(b) - severity(a))[0];
  }
  const prepared = ready.map((r) => (r as PromiseFulfilledResult<PreparedFlip>).value);
  try {
    await ensureLocks(ctx, hosts); // the lease, right before the renames (docs/locks.md)
  } catch (e) {
    await Promise.all(prepared.map((p) => p.h.t.remove(p.tmp).catch(() => {})));
    throw e;
  }
  const from = new Map(hosts.map((h) => [h, h.currentId]));
  // Every rename is one request: sent here, in one go, before any answer is awaited.
  const renames = prepared.map((p) => p.h.t.rename(p.tmp, p.linkPath));
  renames.forEach((r) => r.catch(() => {})); // each is awaited (and reported) below
  await forEachHost(ctx, 'switch', hosts, async (h) => {
    const i = hosts.indexOf(h);
    await commitFlip(prepared[i], renames[i]);
    await switched(ctx, h, h.target!, from.get(h), action);
    return after?.(h);
  });
}

/**
 * The revert of a first deploy: no release was live before, so `current` goes away
 * (one unlink: it never points at anything incomplete). Records the state.
 */
export async function unlinkCurrent(ctx: Ctx, h: HostRun): Promise<void> {
  const st = await h.t.stat(h.paths.current);
  if (st && st.type !== 'symlink') {
    throw new ShipError(`${h.name}: ${h.paths.current} is a real ${st.type === 'dir' ? 'directory' : 'file'}, not a symlink`, { host: h.name, reason: 'current-not-symlink' });
  }
  const left = h.currentId;
  if (st) await h.t.remove(h.paths.current);
  h.currentId = undefined;
  if (left) await record(ctx, h, { action: 'rollback', previous: left, states: { [left]: 'rolled-back' } });
  ctx.events.warn(`no release was live before this run: current (${left ?? 'nothing'}) removed`, h.name);
}

/** Removes `next` (a symlink only; a real directory there is refused, never removed). */
export async function removeNext(h: HostRun): Promise<boolean> {
  const st = await h.t.stat(h.paths.next);
  if (!st) {
    h.nextId = undefined;
    return false;
  }
  if (st.type !== 'symlink') {
    throw new ShipError(`${h.name}: ${h.paths.next} is a real ${st.type === 'dir' ? 'directory' : 'file'}, not a symlink`, {
      host: h.name,
      reason: 'next-not-symlink',
      hint: 'ship never removes it: move it aside',
    });
  }
  await h.t.remove(h.paths.next);
  h.nextId = undefined;
  return true;
}

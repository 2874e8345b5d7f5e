import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import type { Ctx, HostRun } from './context.js';
import { ShipError } from './errors.js';
import { record } from './host-state.js';
import { leavingState, releaseInfos, SWITCHABLE, type ReleaseState } from './releases.js';

/**
 * Points `link` (current or next) at releases/<id> atomically: a new symlink under a
 * temporary name, renamed over the old one, then read back. Never `ln -sfn`.
 */
export async function flipLink(h: HostRun, id: string, which: 'current' | 'next' = 'current'): Promise<void> {
  const linkPath = which === 'current' ? h.paths.current : h.paths.next;
  const existing = await h.t.stat(linkPath);
  if (existing && existing.type !== 'symlink') {
    throw new ShipError(`${h.name}: ${linkPath} is a real ${existing.type === 'dir' ? 'directory' : 'file'}, not a symlink`, {
      host: h.name,
      reason: 'current-not-symlink',
      hint: 'ship never replaces it: move it aside, then run again',
    });
  }
  const target = await h.t.stat(h.paths.release(id));
  if (target?.type !== 'dir') throw new ShipError(`${h.name}: release ${id} is not there (${h.paths.release(id)})`, { host: h.name, reason: 'release-missing' });
  const tmp = path.join(h.root, `.${which}.tmp-${id}-${randomBytes(4).toString('hex')}`);
  await h.t.symlink(h.paths.linkTarget(id), tmp);
  try {
    await h.t.rename(tmp, linkPath);
  } catch (e) {
    await h.t.remove(tmp).catch(() => {});
    throw e;
  }
  const now = await h.t.readlink(linkPath);
  if (now !== h.paths.linkTarget(id)) {
    throw new ShipError(`${h.name}: ${which} reads ${now ?? '(nothing)'} after the switch, expected ${h.paths.linkTarget(id)}`, { host: h.name, reason: 'switch-verify' });
  }
}

/** Makes `id` live on a host and records the states that follow. */
export async function switchHost(ctx: Ctx, h: HostRun, id: string, action: 'switch' | 'rollback' = 'switch'): Promise<void> {
  const from = h.currentId;
  // The last guard for every command: only a release ship published goes live (or, on a
  // revert, the one that was live before this run).
  const state = releaseInfos(h.history, h.dirs, from).find((r) => r.id === id)?.state;
  if (id !== h.switchedFrom && (!state || !SWITCHABLE.has(state))) {
    throw new ShipError(`${h.name}: ${id} is not a release ship published (state ${state ?? 'missing'}): not made live`, { host: h.name, reason: 'release-unknown' });
  }
  await flipLink(h, id, 'current');
  if (h.switchedFrom === undefined) h.switchedFrom = from ?? null;
  h.currentId = id;
  const states: Record<string, ReleaseState> = { [id]: 'active' };
  if (from && from !== id) states[from] = leavingState(from, id);
  await record(ctx, h, { action, release: id, previous: from, states });
  h.infos = releaseInfos(h.history, h.dirs, h.currentId);
  ctx.events.emit({ type: 'switch', host: h.name, release: id, previous: from });
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
  h.infos = releaseInfos(h.history, h.dirs, h.currentId);
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

import os from 'node:os';
import type { Ctx, HostRun } from './context.js';
import { forEachHost } from './context.js';
import { LockedError } from './errors.js';
import { FileExistsError } from './transport/types.js';

export interface LockInfo {
  user: string;
  host: string;
  pid: number;
  command: string;
  startedAt: string;
  release?: string;
}

export function describeLock(l: Partial<LockInfo>): string {
  return `${l.user ?? '?'}@${l.host ?? '?'} pid ${l.pid ?? '?'} (${l.command ?? '?'}) since ${l.startedAt ?? '?'}`;
}

export async function readLock(h: HostRun): Promise<LockInfo | undefined> {
  const buf = await h.t.readFile(h.paths.lock);
  if (!buf) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as LockInfo;
  } catch {
    return { user: '?', host: '?', pid: 0, command: 'unreadable lock file', startedAt: '?' };
  }
}

async function takeOne(ctx: Ctx, h: HostRun): Promise<void> {
  const info: LockInfo = {
    user: ctx.user,
    host: os.hostname(),
    pid: process.pid,
    command: `${ctx.command} ${ctx.stage.name}`,
    startedAt: new Date().toISOString(),
    release: ctx.release,
  };
  // A host with history has .ship/ already: one round trip less.
  if (!h.history.length) await h.t.mkdirp(h.paths.meta);
  try {
    await h.t.writeFile(h.paths.lock, `${JSON.stringify(info)}\n`, { exclusive: true });
    h.lockHeld = true;
  } catch (e) {
    if (!(e instanceof FileExistsError)) throw e;
    const holder = await readLock(h);
    throw new LockedError(h.name, holder ? describeLock(holder) : 'another run');
  }
}

/** Releases the locks this run took, and only those. */
export async function releaseLocks(ctx: Ctx): Promise<void> {
  await Promise.all(
    ctx.hosts
      .filter((h) => h.lockHeld)
      .map(async (h) => {
        try {
          await h.t.remove(h.paths.lock);
          h.lockHeld = false;
        } catch (e) {
          ctx.events.warn(`could not remove the lock ${h.paths.lock}: ${(e as Error).message}`, h.name);
        }
      }),
  );
}

/**
 * Locks every host: the first by name alone, then the rest in parallel, so that of two
 * runs over the same hosts exactly one proceeds. With --lock-wait, a refused run lets
 * go of everything, waits, and starts again from the first host.
 */
export async function lockAll(ctx: Ctx): Promise<void> {
  const ordered = [...ctx.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const deadline = Date.now() + (ctx.opts.lockWait ?? 0) * 1000;
  let announced = false;
  for (;;) {
    try {
      await takeOne(ctx, ordered[0]);
      if (ordered.length > 1) await forEachHost(ctx, 'lock', ordered.slice(1), (h) => takeOne(ctx, h));
      return;
    } catch (e) {
      await releaseLocks(ctx);
      if (!(e instanceof LockedError) || Date.now() >= deadline) throw e;
      if (!announced) ctx.events.log(`waiting up to ${ctx.opts.lockWait}s for ${e.holder} on ${e.host}`);
      announced = true;
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, deadline - Date.now()))));
    }
  }
}

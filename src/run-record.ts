/**
 * The history line that ends a run: one per host the run locked, naming the command
 * (deploy, switch, rollback, prune, migrate), the release it put live, the one it left,
 * the revision, how long it took and how it ended. `ship history` reads these (and the
 * step lines of the same run) as one event. `ship setup` writes its own, only when it
 * changed something.
 */
import type { Ctx, HostRun } from './context.js';
import { UsageError, type ShipError } from './errors.js';
import { record } from './host-state.js';
import type { HistoryEntry } from './releases.js';
import { hostReleases } from './releases.js';

const RECORDED = new Set(['deploy', 'switch', 'rollback', 'prune', 'migrate']);

export async function recordRun(ctx: Ctx, error: ShipError | undefined): Promise<void> {
  if (!RECORDED.has(ctx.command)) return; // only hosts this run locked get a line: a dry run locks none
  // A command line or config that is wrong (exit 2) changes nothing on any server, history included.
  if (error instanceof UsageError) return;
  const outcome: HistoryEntry['outcome'] = error
    ? error.reason === 'interrupted'
      ? 'interrupted'
      : 'failed'
    : ctx.paused?.length
      ? 'paused'
      : ctx.opts.noSwitch && ctx.command === 'deploy'
        ? 'staged'
        : 'ok';
  const durationMs = Date.now() - ctx.startedAt.getTime();
  await Promise.all(
    ctx.hosts
      .filter((h) => h.lockHeld)
      .map((h) =>
        record(ctx, h, {
          action: ctx.command as HistoryEntry['action'],
          ...releaseOf(ctx, h),
          durationMs,
          outcome,
          ...(error ? { exitCode: error.exitCode, message: error.message.split('\n')[0] } : {}),
        }).catch((e) => ctx.events.warn(`could not append to ${h.paths.history}: ${(e as Error).message}`, h.name)),
      ),
  );
}

function releaseOf(ctx: Ctx, h: HostRun): Pick<HistoryEntry, 'release' | 'previous' | 'revision'> {
  if (ctx.command === 'prune' || ctx.command === 'migrate') return { release: h.currentId };
  const release = h.target ?? ctx.release;
  const previous = h.switchedFrom !== undefined ? (h.switchedFrom ?? undefined) : h.currentId !== release ? h.currentId : undefined;
  const revision = ctx.build?.revision ?? hostReleases(h).find((r) => r.id === release)?.revision;
  return { release, ...(previous ? { previous } : {}), ...(revision ? { revision } : {}) };
}

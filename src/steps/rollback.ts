import { carryBackAssets } from '../assets.js';
import { checkNamedRelease, GOOD, previousGood, hostReleases } from '../releases.js';
import { isReleaseId } from '../paths.js';
import { ShipError, UsageError } from '../errors.js';
import { guardRollback } from '../migrations/guard.js';
import { removeNext } from '../flip.js';
import type { Step } from './types.js';

/**
 * Chooses where a rollback goes: --to <id>, or the newest good release older than the
 * newest current release. Hosts already there are left alone.
 */
export const rollback = {
  name: 'rollback',
  description: 'choose the release to go back to',
  /** Chooses as a run would; says which `next` it would remove, carries no asset files. */
  preview: (ctx, hosts): Promise<void> => rollback.run(ctx, hosts, true),
  async run(ctx, hosts, preview = false) {
    const to = ctx.opts.to;
    let target: string | undefined;
    if (to !== undefined) {
      checkNamedRelease(hosts, to, ctx.stage.name);
      target = to;
    } else {
      const newest = hosts.map((h) => h.currentId).filter((x): x is string => !!x).sort().pop();
      if (!newest) throw new ShipError('nothing to roll back to: no host has a current release', { reason: 'no-target' });
      const candidates = hosts.map((h) => previousGood(hostReleases(h), newest)?.id).filter((x): x is string => !!x);
      // The newest release that every host has in a good state.
      target = candidates
        .sort()
        .reverse()
        .find((id) => hosts.every((h) => hostReleases(h).some((r) => r.id === id && GOOD.has(r.state))));
      if (!target) {
        throw new ShipError(`nothing to roll back to: no good release older than ${newest} on every host`, {
          reason: 'no-target',
          hint: `see: ship releases ${ctx.stage.name}`,
        });
      }
    }
    await guardRollback(ctx, hosts, target);
    for (const h of hosts) {
      h.target = target;
      h.cwd = h.paths.release(target);
    }
    ctx.release = target;
    ctx.events.log(`rolling back to ${target}`);
    if (!preview) await carryBackAssets(ctx, hosts);
    // A paused rollout of the release being left is abandoned: its `next` links go too,
    // so a later plain `ship switch` cannot bring it back by surprise.
    const leaving = new Set(hosts.map((h) => h.currentId).filter((id): id is string => !!id && id !== target));
    for (const h of hosts) {
      if (h.nextId && leaving.has(h.nextId)) {
        const id = h.nextId;
        if (preview) {
          ctx.events.log(`would remove next -> ${id}: its rollout would be abandoned`, h.name);
          continue;
        }
        await removeNext(h);
        ctx.events.log(`removed next -> ${id}: its rollout was abandoned`, h.name);
      }
    }
  },
} satisfies Step;

export function checkReleaseArg(id: string | undefined): void {
  if (id !== undefined && !isReleaseId(id)) {
    throw new UsageError(`'${id}' is not a release id`, { hint: 'release ids are plain names like 20261122101500' });
  }
}

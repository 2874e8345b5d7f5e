import { forEachHost } from '../context.js';
import { planPrune, pruneHost } from '../prune.js';
import type { Step } from './types.js';

/**
 * After a deploy: prunes to keepReleases and clears stale .partial dirs. A rollback
 * prunes nothing, so the release it left stays one `ship rollback --to` away.
 * (Unlocking follows in any case.)
 */
export const finish: Step = {
  name: 'finish',
  description: 'prune old releases',
  async run(ctx, hosts) {
    if (!ctx.build) return;
    const keep = ctx.opts.keep ?? ctx.stage.keepReleases;
    await forEachHost(ctx, 'finish', hosts, async (h) => {
      const removed = await pruneHost(ctx, h, keep);
      ctx.pruned[h.name] = removed;
      return removed.length ? `pruned ${removed.join(' ')}` : undefined;
    });
  },
  /** What pruning would remove once the new release is live. */
  async preview(ctx, hosts) {
    if (!ctx.build) return;
    const keep = ctx.opts.keep ?? ctx.stage.keepReleases;
    await forEachHost(ctx, 'finish', hosts, async (h) => {
      const { doomed } = await planPrune(h, keep, ctx.command === 'deploy' ? ctx.release : undefined);
      if (doomed.length) ctx.events.log(`would prune ${doomed.join(' ')}`, h.name);
    });
  },
};

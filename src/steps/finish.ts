import { forEachHost } from '../context.js';
import { pruneHost } from '../prune.js';
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
      if (ctx.opts.dryRun) {
        if (removed.length) ctx.events.log(`would prune ${removed.join(' ')}`, h.name);
        return;
      }
      ctx.pruned[h.name] = removed;
      return removed.length ? `pruned ${removed.join(' ')}` : undefined;
    });
  },
};

import { forEachHost } from '../context.js';
import { removeNext, switchHost } from '../switch.js';
import type { Step } from './types.js';

/**
 * Flips `current` to the target release on each host of the batch. A `next` that is
 * not newer than what just went live (the release `ship switch` promoted, or an older
 * staged one a deploy overtook) is removed on that host right after its flip.
 */
export const switchStep: Step = {
  name: 'switch',
  description: 'point current at the release (atomic rename)',
  async run(ctx, hosts) {
    if (ctx.opts.dryRun) return;
    await forEachHost(ctx, 'switch', hosts, async (h) => {
      if (!h.target || h.currentId === h.target) return 'already current';
      await switchHost(ctx, h, h.target, ctx.command === 'rollback' ? 'rollback' : 'switch');
      const staged = h.nextId;
      if (ctx.command !== 'rollback' && staged && staged <= h.target && (await removeNext(h))) return `next (${staged}) removed`;
    });
  },
};

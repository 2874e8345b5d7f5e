import { forEachHost } from '../context.js';
import { switchHost } from '../switch.js';
import type { Step } from './types.js';

/** Flips `current` to the target release on each host of the batch. */
export const switchStep: Step = {
  name: 'switch',
  description: 'point current at the release (atomic rename)',
  async run(ctx, hosts) {
    if (ctx.opts.dryRun) return;
    await forEachHost(ctx, 'switch', hosts, async (h) => {
      if (!h.target || h.currentId === h.target) return 'already current';
      await switchHost(ctx, h, h.target, ctx.command === 'rollback' ? 'rollback' : 'switch');
    });
  },
};

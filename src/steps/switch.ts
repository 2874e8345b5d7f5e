import { forEachHost } from '../context.js';
import { removeNext, switchBatch } from '../flip.js';
import type { Step } from './types.js';

/**
 * Flips `current` to the target release on each host of the batch, every host at the
 * same moment (switchBatch). A `next` that is not newer than what just went live (the
 * release `ship switch` promoted, or an older staged one a deploy overtook) is removed
 * on that host right after its flip.
 */
export const switchStep: Step = {
  name: 'switch',
  description: 'point current at the release (atomic rename)',
  async run(ctx, hosts) {
    const already = hosts.filter((h) => !h.target || h.currentId === h.target);
    if (already.length) await forEachHost(ctx, 'switch', already, async () => 'already current');
    const todo = hosts.filter((h) => !already.includes(h));
    if (!todo.length) return;
    const rollback = ctx.command === 'rollback';
    await switchBatch(ctx, todo, rollback ? 'rollback' : 'switch', async (h) => {
      const staged = h.nextId;
      if (!rollback && staged && staged <= h.target! && (await removeNext(h))) return `next (${staged}) removed`;
    });
  },
  async preview(ctx, hosts) {
    for (const h of hosts) if (h.target && h.currentId !== h.target) ctx.events.log(`would switch current -> ${h.target}`, h.name);
  },
};

import { forEachHost, type Ctx } from './context.js';
import type { ShipError } from './errors.js';
import { record } from './host-state.js';

/**
 * After a failed deploy: each host this run locked loses the release's `.partial` dir,
 * and a release that was published there but never went live is recorded as failed.
 * Never throws: what could not be cleaned is a warning.
 */
export async function removePartials(ctx: Ctx, error: ShipError): Promise<void> {
  const id = ctx.release;
  if (!id) return;
  const mine = ctx.hosts.filter((h) => h.lockHeld);
  await forEachHost(ctx, 'cleanup', mine, async (h) => {
    // An aborted upload's unpacker may still be writing for a moment: one more try.
    await h.t.remove(h.paths.partial(id)).catch(async () => {
      await new Promise((r) => setTimeout(r, 500));
      await h.t.remove(h.paths.partial(id));
    });
    if (h.published && !h.history.some((e) => e.action === 'failure' && e.release === id)) {
      if (h.currentId !== id) await record(ctx, h, { action: 'failure', release: id, states: { [id]: 'failed' }, message: error.message });
    }
  }).catch((e) => ctx.events.warn(`clean-up after the failure was incomplete: ${(e as Error).message}`));
}

import { carryBackAssets } from '../assets.js';
import { forEachHost, type HostRun } from '../context.js';
import { record } from '../host-state.js';

import { otherColor } from '../colors/gates.js';
import { applyRouter } from '../colors/router.js';
import { colorsOf, hostColors } from '../colors/runtime.js';
import { promote } from './promote.js';
import { rollback } from './rollback.js';
import type { Step } from './types.js';

/**
 * Two colors, `ship rollback`: a canary held by --pause is abandoned — all traffic back
 * on the old color in one router change, the canary's release recorded as rolled back,
 * `current` untouched (it never moved). Otherwise as always: the previous good release
 * (or --to), whose color, when it still runs, only needs the router turned back to it.
 */
export const colorRollback = {
  name: 'rollback',
  description: 'choose the release to go back to (or abandon a paused canary)',
  preview: (ctx, hosts): Promise<void> => colorRollback.run(ctx, hosts, true),
  async run(ctx, hosts, preview = false) {
    const paused = [];
    for (const h of hosts) if ((await hostColors(h)).state.canary) paused.push(h);
    if (!paused.length) return rollback.run(ctx, hosts, preview);
    const colors = colorsOf(ctx);
    const release = (await hostColors(paused[0])).state.canary!.release;
    ctx.release = release;
    ctx.events.log(`abandoning the paused canary of ${release}`);
    for (const h of hosts) h.target = h.currentId; // nothing else moves
    if (preview) return;
    // As any rollback: the old release gets the canary's asset files before traffic moves back.
    const shadows: HostRun[] = [];
    for (const h of paused) {
      const s = (await hostColors(h)).state;
      const old = s.releases[otherColor(s.canary!.color)];
      if (old && old !== release) shadows.push({ ...h, currentId: release, target: old });
    }
    await carryBackAssets(ctx, shadows);
    await forEachHost(ctx, 'rollback', paused, async (h) => {
      const r = await hostColors(h);
      const c = r.state.canary!.color;
      const old = otherColor(c);
      r.state.weights = { [old]: 100, [c]: 0 } as typeof r.state.weights;
      r.state.live = old;
      delete r.state.canary;
      delete r.state.route;
      await applyRouter(ctx, h, colors, r.state);
      await record(ctx, h, { action: 'rollback', release: h.currentId, previous: release, states: { [release]: 'rolled-back' } });
      return `all traffic back on ${old} (${r.state.releases[old]}); ${release} keeps running on ${c}, without traffic`;
    });
  },
} satisfies Step;

/**
 * Two colors, `ship switch`: a canary held by --pause continues from its next step;
 * otherwise `next` (or the named release) is chosen as always.
 */
export const colorPromote: Step = {
  name: 'promote',
  description: 'choose the release to make live (or continue a paused canary)',
  async run(ctx, hosts) {
    let held: string | undefined;
    for (const h of hosts) held ??= (await hostColors(h)).state.canary?.release;
    if (!held || ctx.opts.to) return promote.run(ctx, hosts);
    ctx.events.log(`continuing the paused canary of ${held}`);
    for (const h of hosts) {
      h.target = held;
      h.cwd = h.paths.release(held);
    }
    ctx.release = held;
  },
};

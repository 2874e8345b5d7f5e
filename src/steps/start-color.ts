import { forEachHost } from '../context.js';
import { CommandError, ShipError } from '../errors.js';
import { colorOf, colorsOf, hostColors, idleColor, newHealthToken, processCommand, setColorEnv, stopColor } from '../colors/runtime.js';
import { portsOf, writeState } from '../colors/router.js';
import type { Step } from './types.js';

/**
 * Two colors: starts the target release on the idle color's port, working directory in
 * that release (`processes.start`). Whatever an earlier deploy left running on that
 * color (the old color kept by keepOld) is stopped first. A release already running on
 * a color (a rollback to the color kept, a paused canary) is not started again.
 * The process started gets a random health token in SHIP_HEALTH_TOKEN (color-health.ts).
 * No traffic moves here.
 */
export const startColor = {
  name: 'start',
  description: 'start the release on the idle color',
  /** Says what it would stop and start; the idle color is chosen as a run would. */
  preview: (ctx, hosts): Promise<void> => startColor.run(ctx, hosts, true),
  async run(ctx, hosts, preview = false) {
    const colors = colorsOf(ctx);
    await forEachHost(ctx, 'start', hosts, async (h) => {
      const r = await hostColors(h);
      const target = h.target;
      if (!target) return;
      const running = colorOf(r.state, target);
      if (r.state.canary && r.state.canary.release !== target) {
        throw new ShipError(`${h.name}: a canary of ${r.state.canary.release} is paused at ${r.state.weights[r.state.canary.color]} %`, {
          host: h.name,
          reason: 'canary-paused',
          hint: `finish it (ship switch ${ctx.stage.name}) or abandon it (ship rollback ${ctx.stage.name}) first`,
        });
      }
      if (running) {
        r.fresh = running;
        setColorEnv(h, colors, running);
        return `${target} already runs on ${running} (port ${portsOf(h, colors)[running]})`;
      }
      const c = idleColor(r.state);
      r.fresh = c;
      setColorEnv(h, colors, c);
      const port = portsOf(h, colors)[c];
      if (preview) {
        const old = r.state.releases[c];
        ctx.events.log(`would ${old ? `stop ${old} on ${c}, then ` : ''}start ${target} on ${c} (port ${port})`, h.name);
        return;
      }
      await stopColor(ctx, h, r, c);
      // A new token for each start: the health check wants it back (docs/blue-green.md, Health check).
      r.token = newHealthToken();
      const res = await processCommand(ctx, h, 'start', c, target, r.token);
      r.started = true;
      // Recorded even when start failed: a half-started process is stopped by the next run.
      r.state.releases[c] = target;
      r.state.weights[c] = 0;
      await writeState(h, r.state);
      if (res.code !== 0) {
        const err = new CommandError(h.name, `start of ${target} on ${c} (port ${port})`, res, 'the release got no traffic; see the app log on the host');
        await stopColor(ctx, h, r, c);
        throw err;
      }
      return `${target} started on ${c} (port ${port})`;
    });
  },
} satisfies Step;

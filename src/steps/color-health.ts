import { forEachHost } from '../context.js';
import { ShipError, toShipError } from '../errors.js';
import { judge, requestOnce } from '../health.js';
import { colorsOf, hostColors, stopColor } from '../colors/runtime.js';
import { portsOf } from '../colors/router.js';
import type { Step } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two colors: checks the target's color on its own port, before it gets any traffic.
 * The health URL's `{port}` (or else its port) becomes the color's port; `contains` may
 * use `{release}`. A color that fails is stopped again, so it never takes traffic.
 */
export const colorHealth: Step = {
  name: 'health',
  description: 'check the new color on its own port',
  async run(ctx, hosts) {
    const colors = colorsOf(ctx);
    await forEachHost(ctx, 'health', hosts, async (h) => {
      const r = await hostColors(h);
      const hc = h.cfg.healthcheck;
      if (!hc || !r.fresh || !h.target) return;
      const port = portsOf(h, colors)[r.fresh];
      const url = colorUrl(hc.url, port);
      const want = hc.contains?.replaceAll('{release}', h.target);
      let last = '';
      const tries = hc.retries + 1;
      for (let attempt = 1; attempt <= tries; attempt++) {
        try {
          const res = await requestOnce(h, hc, url);
          last = judge(res, hc, want);
          ctx.events.emit({ type: 'health', host: h.name, ok: !last, status: res.status, attempt, message: last ? `${r.fresh}: ${last}` : `${r.fresh} (port ${port})` });
          if (!last) return `${r.fresh} healthy on port ${port}`;
        } catch (e) {
          last = toShipError(e).message;
          ctx.events.emit({ type: 'health', host: h.name, ok: false, attempt, message: `${r.fresh}: ${last}` });
        }
        if (attempt < tries) await sleep(hc.interval);
      }
      if (r.started) await stopColor(ctx, h, r, r.fresh);
      throw new ShipError(`${h.name}: ${h.target} on ${r.fresh} failed its health check ${url.href} after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${last}`, {
        host: h.name,
        reason: 'health',
        hint: `it got no traffic${r.started ? ' and was stopped' : ''}; look at the app's log on ${h.name}`,
      });
    });
  },
  /** Nothing was started: nothing to check. */
  async preview() {},
};

/** The health URL for one color: `{port}` replaced, or else the URL's port set. */
export function colorUrl(template: string, port: number): URL {
  if (template.includes('{port}')) return new URL(template.replaceAll('{port}', String(port)));
  const u = new URL(template);
  u.port = String(port);
  return u;
}

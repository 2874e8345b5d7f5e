import type { Healthcheck } from '../config/types.js';
import type { Ctx, HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { ForeignListenerError, ShipError, toShipError } from '../errors.js';
import { requestOnce, type HttpResult } from '../health.js';
import { redactUrl } from '../redact.js';
import { colorsOf, hideToken, hostColors, listenersOn, stopColor } from '../colors/runtime.js';
import type { Color } from '../colors/gates.js';
import { portsOf } from '../colors/router.js';
import type { Step } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two colors: checks the target's color on its own port, before it gets any traffic.
 * The health URL's `{port}` (or else its port) becomes the color's port; `contains` may
 * use `{release}` and `{token}`. A process this run started must show its health token
 * (SHIP_HEALTH_TOKEN) in the answer, and the socket listening on the port must belong to
 * the user ship runs as: another user's process that took the port answers nothing ship
 * trusts (docs/blue-green.md, Health check; Who answers on a color's port). A color that
 * fails is stopped again, so it never takes traffic.
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
      const color = r.fresh;
      const port = portsOf(h, colors)[color];
      const url = colorUrl(hc.url, port);
      // Only a process this run started has a token ship knows; one an earlier run started shows its own.
      const token = r.started ? r.token : undefined;
      const refuse = async (e: ShipError): Promise<never> => {
        if (r.started) await stopColor(ctx, h, r, color);
        throw e;
      };
      let last = '';
      const tries = hc.retries + 1;
      for (let attempt = 1; attempt <= tries; attempt++) {
        let res: HttpResult | undefined;
        try {
          res = await requestOnce(h, hc, url, token ? [token] : undefined);
          last = judgeColor(res, hc, h.target, token);
          ctx.events.emit({ type: 'health', host: h.name, ok: !last, status: res.status, attempt, message: last ? `${color}: ${last}` : `${color} (port ${port})` });
        } catch (e) {
          last = hideToken(toShipError(e).message, token);
          ctx.events.emit({ type: 'health', host: h.name, ok: false, attempt, message: `${color}: ${last}` });
        }
        // Something answered: it must be the deploy user's. Another user's listener fails the check at once.
        if (res) {
          const wrong = await listenerProblem(ctx, h, color, port, !last);
          if (wrong) await refuse(wrong);
        }
        if (!last) return `${color} healthy on port ${port}`;
        if (attempt < tries) await sleep(hc.interval);
      }
      await refuse(
        new ShipError(`${h.name}: ${h.target} on ${color} failed its health check ${redactUrl(url.href)} after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${last}`, {
          host: h.name,
          reason: 'health',
          hint: `it got no traffic${r.started ? ' and was stopped' : ''}; look at the app's log on ${h.name}`,
        }),
      );
    });
  },
  /** Nothing was started: nothing to check. */
  async preview() {},
};

/**
 * What stops ship from routing to `port`: a listening socket there owned by another uid
 * than the one ship runs as (or root); once the color looks healthy (`healthy`), also no listener
 * at all, or a host where /proc/net/tcp cannot be read (unless processes.checkListener
 * is false).
 */
async function listenerProblem(ctx: Ctx, h: HostRun, color: Color, port: number, healthy: boolean): Promise<ShipError | undefined> {
  if (!colorsOf(ctx).checkListener) return undefined;
  const what = `${color}, ${h.target}`;
  const l = await listenersOn(h, port);
  if (!l) {
    if (!healthy) return undefined;
    return new ShipError(`${h.name}: cannot tell who listens on port ${port} (${what}): /proc/net/tcp cannot be read there; nothing was routed to it`, {
      host: h.name,
      reason: 'listener-unknown',
      hint: `ship routes only to a port whose listening socket belongs to the deploy user; where /proc/net/tcp cannot be read, set processes.checkListener: false to route without that check (docs/blue-green.md, Who answers on a color's port)`,
    });
  }
  // root is no other local user: a socket it opens for the app (docker-proxy, systemd socket activation) is trusted.
  const foreign = l.owners.find((o) => o.uid !== l.self && o.uid !== 0);
  if (foreign) return new ForeignListenerError(h.name, port, what, foreign, l.self);
  if (healthy && !l.owners.length) {
    return new ShipError(`${h.name}: the health check on port ${port} (${what}) was answered, but no socket listens on that port in /proc/net/tcp; nothing was routed to it`, {
      host: h.name,
      reason: 'listener-unknown',
      hint: `does the health-check URL point at this host (127.0.0.1)? where ship's commands see another network namespace than the app, set processes.checkListener: false (docs/blue-green.md, Who answers on a color's port)`,
    });
  }
  return undefined;
}

/**
 * The failure text of a color's answer, or '' when it is healthy. `contains` gets
 * `{release}` filled and `{token}` as this run's token (any token of ship's form for a
 * process an earlier run started). A process started with `token` must show it even when
 * `contains` does not name it. The token never appears in the text.
 */
export function judgeColor(res: HttpResult, hc: Pick<Healthcheck, 'expect' | 'contains'>, release: string, token: string | undefined): string {
  if (res.status !== hc.expect) return `status ${res.status}, expected ${hc.expect}`;
  const got = () => `(got ${JSON.stringify(hideToken(res.body, token).trim().slice(0, 80))})`;
  const contains = hc.contains?.replaceAll('{release}', release);
  if (contains) {
    const parts = contains.split('{token}');
    const re = new RegExp(parts.map(escapeRe).join(token ? escapeRe(token) : '[0-9a-f]{48}'));
    if (!re.test(res.body)) return `the answer lacks ${JSON.stringify(contains)} ${got()}`;
    if (parts.length > 1) return '';
  }
  if (token && !res.body.includes(token)) {
    return `the answer lacks this run's health token (the app gets it in SHIP_HEALTH_TOKEN and must show it on its health page: docs/blue-green.md, Health check) ${got()}`;
  }
  return '';
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The health URL for one color: `{port}` replaced, or else the URL's port set. */
export function colorUrl(template: string, port: number): URL {
  if (template.includes('{port}')) return new URL(template.replaceAll('{port}', String(port)));
  const u = new URL(template);
  u.port = String(port);
  return u;
}

/**
 * The weighted canary: each step sets the weights on every host at once, waits
 * `stepTime`, reads what each host's router access log gained since the last read (the
 * step's first read starts at the log's end when the weights changed; access-log.ts),
 * and judges the new color against the old one over all hosts together, on everything
 * read since the step began (docs/blue-green.md, "The weighted canary and how the gates
 * read"). Too few requests on the new color: the window is extended (up to MAX_WINDOWS
 * in all). A failed gate moves all traffic back to the old color at once,
 * stops the new color and throws, naming the gate with both colors' figures.
 */
import type { Ctx, HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { carryBackAssets } from '../assets.js';
import { ShipError, toShipError } from '../errors.js';
import { ensureLocks } from '../lock.js';
import { judge, newTallies, otherColor, Tally, weightsFor, type Color, type Figures } from './gates.js';
import { logCursor, readWindow, type LogCursor } from './access-log.js';
import { applyRouter, newRouteToken, portsOf, routerPath, writeState } from './router.js';
import { colorsOf, hostColors, retireColors } from './runtime.js';

/** A step waits at most this many stepTimes for minRequests. */
export const MAX_WINDOWS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function walkCanary(ctx: Ctx, hosts: HostRun[]): Promise<'done' | 'paused'> {
  const colors = colorsOf(ctx);
  const { steps = [100], stepTime = 60_000, gates } = ctx.stage.strategy;
  const release = ctx.release!;
  const first = await hostColors(hosts[0]);
  // A paused canary continues after the step it held at.
  const resumeAt = first.state.canary?.release === release ? first.state.canary.step + 1 : 0;
  const noOld = [] as string[];
  for (const h of hosts) {
    const r = await hostColors(h);
    const old = otherColor(r.fresh!);
    if (!r.state.releases[old] || !r.state.weights[old]) noOld.push(h.name);
  }
  if (noOld.length) {
    ctx.events.log(`nothing else takes traffic on ${noOld.join(', ')}: all traffic goes to ${release} at once`);
  }
  const canJudge = noOld.length === 0;
  if (canJudge && steps[resumeAt] < 100) await announceCookie(ctx, hosts);
  for (let i = resumeAt; i < steps.length; i++) {
    const percent = canJudge ? steps[i] : 100;
    const logs = new Map<HostRun, HostLog>();
    await ensureLocks(ctx, hosts); // the lease before every router change (docs/locks.md)
    await forEachHost(ctx, 'route', hosts, async (h) => {
      const r = await hostColors(h);
      r.state.weights = weightsFor(r.fresh!, percent);
      r.state.live = percent === 100 ? r.fresh : otherColor(r.fresh!);
      delete r.state.canary;
      await applyRouter(ctx, h, colors, r.state);
      // The window starts once this host's router has the new weights.
      const file = routerPath(h, colors.router.accessLog);
      logs.set(h, { cursor: await logCursor(h, file), tallies: newTallies() });
      return `${percent} % on ${r.fresh} (${release})`;
    });
    if (percent === 100) {
      await forgetCookie(ctx, hosts);
      return 'done';
    }
    ctx.events.emit({ type: 'canary', step: i + 1, percent, status: 'start', release });
    ctx.events.log(`canary step ${i + 1}/${steps.length}: ${percent} % on ${release}, watching for ${stepTime / 1000} s`);
    let verdict;
    let fig: { fresh: Figures; old: Figures } | undefined;
    for (let w = 1; ; w++) {
      await sleepUnlessInterrupted(ctx, stepTime);
      fig = await readFigures(ctx, hosts, logs);
      verdict = judge(fig.fresh, fig.old, gates!, w >= MAX_WINDOWS || ctx.interrupted, { fresh: `${release} (new)`, old: 'the old release' });
      if (!('wait' in verdict && verdict.wait)) break;
      ctx.events.emit({ type: 'canary', step: i + 1, percent, status: 'waiting', release, figures: out(fig), gate: 'minRequests', message: verdict.message });
    }
    if (ctx.interrupted && verdict.ok) verdict = { ok: false as const, gate: 'interrupted' as const, message: 'interrupted' };
    if (!verdict.ok) {
      ctx.events.emit({ type: 'canary', step: i + 1, percent, status: 'failed', release, figures: out(fig), gate: verdict.gate, message: verdict.message });
      await backToOld(ctx, hosts);
      throw new ShipError(`canary of ${release} stopped at step ${i + 1} (${percent} %): gate ${verdict.message}`, {
        reason: 'canary-gate',
        hint: 'all traffic went back to the old release at once and the new color was stopped',
      });
    }
    ctx.events.emit({ type: 'canary', step: i + 1, percent, status: 'passed', release, figures: out(fig) });
    ctx.events.log(`canary step ${i + 1} passed: ${fig ? `${fig.fresh.requests} requests on the new color, ${fig.fresh.errors} 5xx; old ${fig.old.requests}, ${fig.old.errors} 5xx` : ''}`);
    if (ctx.opts.pause) {
      await ensureLocks(ctx, hosts);
      await forEachHost(ctx, 'pause', hosts, async (h) => {
        const r = await hostColors(h);
        r.state.canary = { release, color: r.fresh!, step: i };
        await writeState(h, r.state);
      });
      ctx.paused = hosts.map((h) => h.name);
      ctx.events.emit({ type: 'canary', step: i + 1, percent, status: 'paused', release });
      ctx.events.log(`paused at ${percent} % on ${release}; continue with: ship switch ${ctx.stage.name}, or go back with: ship rollback ${ctx.stage.name}`);
      return 'paused';
    }
  }
  return 'done';
}

/**
 * Before a canary's first split: one router change that only makes the rollout's cookie
 * known (a new random token, both colors; the weights stay as they are, no cookie is
 * handed out yet). The router helper returns once nginx's old workers stopped taking
 * connections, so when the first split hands out cookies every worker routes them:
 * a page from the new color whose chunk arrives on another connection finds the new color
 * (docs/blue-green.md, "Sticky colors"). A paused canary's token is kept.
 */
async function announceCookie(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  const colors = colorsOf(ctx);
  await ensureLocks(ctx, hosts); // the lease before every router change (docs/locks.md)
  await forEachHost(ctx, 'route cookie', hosts, async (h) => {
    const r = await hostColors(h);
    if (r.state.route) return;
    r.state.route = newRouteToken();
    await applyRouter(ctx, h, colors, r.state);
    return 'the rollout\'s cookie is known to the router';
  });
}

/**
 * After the last step: the change to 100 % still routes (and hands out) the rollout's
 * cookie, so a page the new color served without one, whose chunk an old worker takes,
 * still reaches the new color; once every worker has that file, this change drops it.
 */
async function forgetCookie(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  const colors = colorsOf(ctx);
  await ensureLocks(ctx, hosts); // the lease before every router change (docs/locks.md)
  await forEachHost(ctx, 'route cookie', hosts, async (h) => {
    const r = await hostColors(h);
    if (!r.state.route) return;
    delete r.state.route;
    await applyRouter(ctx, h, colors, r.state);
    return 'the rollout\'s cookie is forgotten';
  });
}

async function sleepUnlessInterrupted(ctx: Ctx, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !ctx.interrupted) await sleep(Math.min(250, end - Date.now()));
}

/** One host's access log during a step: where reading stands, and what it read so far. */
interface HostLog {
  cursor: LogCursor;
  tallies: Record<Color, Tally>;
}

/**
 * Both roles' figures over every host since the step began: each host's log is read
 * from where the last window stopped (only new bytes), folded into that host's tallies.
 */
async function readFigures(ctx: Ctx, hosts: HostRun[], logs: Map<HostRun, HostLog>): Promise<{ fresh: Figures; old: Figures }> {
  const colors = colorsOf(ctx);
  await forEachHost(ctx, 'read log', hosts, async (h) => {
    const r = await hostColors(h);
    const l = logs.get(h)!;
    const read = await readWindow(h, l.cursor, portsOf(h, colors), l.tallies);
    if (read.rotated) ctx.events.log(`the access log ${l.cursor.file} was rotated: reading the new one from its start`, h.name);
    if (read.skipped) {
      ctx.events.warn(
        `the access log ${l.cursor.file} grew by ${mib(read.skipped + read.bytes)} since the last read, more than ship reads in one window: judging on the last ${mib(read.bytes)}`,
        h.name,
      );
    }
    const fc = r.fresh!;
    const f = l.tallies[fc];
    const o = l.tallies[otherColor(fc)];
    return `${fc}: ${f.requests} requests, ${f.errors} 5xx; ${otherColor(fc)}: ${o.requests}, ${o.errors} 5xx${f.pinned + o.pinned ? `; ${f.pinned + o.pinned} pinned by cookie, not counted` : ''}`;
  });
  const fresh = new Tally();
  const old = new Tally();
  for (const h of hosts) {
    const r = await hostColors(h);
    const t = logs.get(h)!.tallies;
    fresh.merge(t[r.fresh!]);
    old.merge(t[otherColor(r.fresh!)]);
  }
  return { fresh: fresh.figures(), old: old.figures() };
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function out(f?: { fresh: Figures; old: Figures }) {
  if (!f) return undefined;
  const one = (x: Figures) => ({ requests: x.requests, errors: x.errors, errorRate: Number(x.errorRate.toFixed(3)), p95: Number.isNaN(x.p95) ? null : x.p95, pinned: x.pinned ?? 0 });
  return { new: one(f.fresh), old: one(f.old) };
}

/**
 * All traffic back on the old color on every host, at once; the new color is stopped once
 * the router has let go of it (retireColors).
 * First, as a rollback does, the old release gets the new one's asset files, so a
 * browser holding a page of the canary still finds its chunks once it is moved back.
 */
async function backToOld(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  const colors = colorsOf(ctx);
  await ensureLocks(ctx, hosts);
  const shadows: HostRun[] = [];
  for (const h of hosts) {
    const r = await hostColors(h);
    const old = r.state.releases[otherColor(r.fresh!)];
    if (old && old !== h.target) shadows.push({ ...h, currentId: h.target, target: old });
  }
  await carryBackAssets(ctx, shadows).catch((e) => ctx.events.warn(`carrying the canary's asset files back failed: ${toShipError(e).message}`));
  await ensureLocks(ctx, hosts);
  await forEachHost(ctx, 'route back', hosts, async (h) => {
    const r = await hostColors(h);
    const old: Color = otherColor(r.fresh!);
    r.state.weights = weightsFor(old, 100);
    r.state.live = old;
    delete r.state.canary;
    delete r.state.route;
    await applyRouter(ctx, h, colors, r.state);
    r.before = structuredClone(r.state); // nothing left for the switch's revert to route back
    return `all traffic back on ${old} (${r.state.releases[old]})`;
  });
  // Not at once: the router's old workers may still send the canary requests.
  await ensureLocks(ctx, hosts);
  await retireColors(ctx, 'stop new', hosts, Date.now(), (r) => r.fresh);
}

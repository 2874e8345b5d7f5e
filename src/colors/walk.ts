/**
 * The weighted canary: each step sets the weights on every host at once, waits
 * `stepTime`, reads each host's router access log for that window (from the byte offset
 * it had when the step began), and judges the new color against the old one over all
 * hosts together. Too few requests on the new color: the window is extended (up to
 * MAX_WINDOWS in all). A failed gate moves all traffic back to the old color at once,
 * stops the new color and throws, naming the gate with both colors' figures.
 */
import type { Ctx, HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { carryBackAssets } from '../assets.js';
import { ShipError, toShipError } from '../errors.js';
import { ensureLocks } from '../lock.js';
import { colorFigures, figures, judge, otherColor, weightsFor, type Color, type Figures, type LogEntry, parseLine } from './gates.js';
import { applyRouter, fileSize, portsOf, readSince, routerPath, writeState } from './router.js';
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
  for (let i = resumeAt; i < steps.length; i++) {
    const percent = canJudge ? steps[i] : 100;
    const logs = new Map<HostRun, { file: string; offset: number }>();
    await ensureLocks(ctx, hosts); // the lease before every router change (docs/locks.md)
    await forEachHost(ctx, 'route', hosts, async (h) => {
      const r = await hostColors(h);
      r.state.weights = weightsFor(r.fresh!, percent);
      r.state.live = percent === 100 ? r.fresh : otherColor(r.fresh!);
      delete r.state.canary;
      await applyRouter(ctx, h, colors, r.state);
      // The window starts once this host's router has the new weights.
      const file = routerPath(h, colors.router.accessLog);
      logs.set(h, { file, offset: await fileSize(h, file) });
      return `${percent} % on ${r.fresh} (${release})`;
    });
    if (percent === 100) return 'done';
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

async function sleepUnlessInterrupted(ctx: Ctx, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !ctx.interrupted) await sleep(Math.min(250, end - Date.now()));
}

/** Both roles' figures over every host: the new color's lines and the old one's. */
async function readFigures(ctx: Ctx, hosts: HostRun[], logs: Map<HostRun, { file: string; offset: number }>): Promise<{ fresh: Figures; old: Figures }> {
  const colors = colorsOf(ctx);
  const fresh: LogEntry[] = [];
  const old: LogEntry[] = [];
  await forEachHost(ctx, 'read log', hosts, async (h) => {
    const r = await hostColors(h);
    const l = logs.get(h)!;
    const text = await readSince(h, l.file, l.offset);
    const ports = portsOf(h, colors);
    const per = colorFigures(text, ports);
    const fc = r.fresh!;
    for (const line of text.split('\n')) {
      const e = parseLine(line);
      const port = e && Number(/:(\d+)$/.exec(e.upstream)?.[1]);
      if (!e) continue;
      if (port === ports[fc]) fresh.push(e);
      else if (port === ports[otherColor(fc)]) old.push(e);
    }
    return `${fc}: ${per[fc].requests} requests, ${per[fc].errors} 5xx; ${otherColor(fc)}: ${per[otherColor(fc)].requests}, ${per[otherColor(fc)].errors} 5xx`;
  });
  return { fresh: figures(fresh), old: figures(old) };
}

function out(f?: { fresh: Figures; old: Figures }) {
  if (!f) return undefined;
  const one = (x: Figures) => ({ requests: x.requests, errors: x.errors, errorRate: Number(x.errorRate.toFixed(3)), p95: Number.isNaN(x.p95) ? null : x.p95 });
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
    await applyRouter(ctx, h, colors, r.state);
    r.before = structuredClone(r.state); // nothing left for the switch's revert to route back
    return `all traffic back on ${old} (${r.state.releases[old]})`;
  });
  // Not at once: the router's old workers may still send the canary requests.
  await ensureLocks(ctx, hosts);
  await retireColors(ctx, 'stop new', hosts, Date.now(), (r) => r.fresh);
}

import type { Ctx, HostRun } from '../context.js';
import { forEachHost } from '../context.js';
import { isFailure, ShipError, toShipError } from '../errors.js';
import { runHook } from '../hooks.js';
import { record } from '../host-state.js';
import { ensureLocks, stillLocked } from '../lock.js';

import { planBatches } from '../runner.js';
import { strategyOf } from '../strategies/index.js';
import { switchHost } from '../flip.js';
import { otherColor, type Color } from '../colors/gates.js';
import { applyRouter, portsOf, type ColorState } from '../colors/router.js';
import { colorsOf, hostColors, retireColors } from '../colors/runtime.js';
import { walkCanary } from '../colors/walk.js';
import type { Step } from './types.js';

/**
 * Two colors: moves traffic to the target's color — in one router change per host
 * (blue-green; hosts in the strategy's batches, drain/undrain around each batch under
 * rolling and canary), or step by step by weight, judged from the router's access log
 * (a canary with `steps`) — and only then flips `current`. Any failure moves every host
 * this run touched back to what it routed before, flips `current` back, marks the
 * release failed and fails the run. keepOld 'none' stops the old color at the end.
 */
export const route = {
  name: 'switch',
  description: 'move traffic to the new color, then point current at it',
  preview: (ctx, hosts): Promise<void> => route.run(ctx, hosts, true),
  async run(ctx, hosts, preview = false) {
    const colors = colorsOf(ctx);
    const todo: HostRun[] = [];
    for (const h of hosts) {
      const r = await hostColors(h);
      if (!h.target || !r.fresh) continue;
      const settled = r.state.live === r.fresh && r.state.weights[r.fresh] === 100 && !r.state.canary;
      if (!settled || h.currentId !== h.target) todo.push(h);
    }
    if (!todo.length) {
      if (hosts.length) ctx.events.log(`${ctx.release ?? 'the release'} takes all traffic on every host already`);
      return;
    }
    if (preview) {
      for (const h of todo) {
        const r = await hostColors(h);
        ctx.events.log(`would route ${weighted(ctx) ? `${ctx.stage.strategy.steps!.join(' → ')} %` : 'all traffic'} to ${r.fresh} (${h.target}), then point current at it`, h.name);
      }
      return;
    }
    try {
      if (weighted(ctx) && ctx.command !== 'rollback') {
        const done = await walkCanary(ctx, todo);
        if (done === 'paused') return;
      } else {
        await blueGreen(ctx, todo);
      }
      await forEachHost(ctx, 'current', todo, async (h) => {
        if (h.currentId === h.target) return;
        await switchHost(ctx, h, h.target!, ctx.command === 'rollback' ? 'rollback' : 'switch');
      });
    } catch (e) {
      throw await revert(ctx, todo, e);
    }
    if (colors.keepOld === 'none') {
      // nginx's reload returns before its old workers have finished the requests (and
      // keep-alive connections) they hold under the previous router: retireColors waits.
      await ensureLocks(ctx, todo);
      await retireColors(ctx, 'stop old', todo, Date.now(), (r) => otherColor(r.fresh!));
    }
  },
} satisfies Step;

function weighted(ctx: Ctx): boolean {
  return ctx.stage.strategy.type === 'canary' && !!ctx.stage.strategy.steps?.length;
}

/** All traffic to the new color, per batch of the strategy. */
async function blueGreen(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  const colors = colorsOf(ctx);
  const plan = strategyOf(ctx.stage.strategy);
  const batches = planBatches(hosts, ctx.stage.strategy);
  const batched = plan.batched;
  for (const [i, batch] of batches.entries()) {
    if (batched) ctx.events.log(`${plan.label(i, batches.length)}: ${batch.map((h) => h.name).join(', ')}`);
    if (batched) await runHook(ctx, 'drain', batch);
    await ensureLocks(ctx, batch); // the lease before every router change (docs/locks.md)
    await forEachHost(ctx, 'route', batch, async (h) => {
      const r = await hostColors(h);
      const c = r.fresh!;
      r.state.weights = { blue: 0, green: 0, [c]: 100 } as Record<Color, number>;
      r.state.live = c;
      delete r.state.canary;
      delete r.state.route;
      await applyRouter(ctx, h, colors, r.state);
      return `all traffic on ${c} (${h.target}, port ${portsOf(h, colors)[c]})`;
    });
    if (batched) await runHook(ctx, 'undrain', batch);
  }
}

/**
 * After a failure: every host this run touched routes as before (weights restored in
 * one router change), `current` goes back, and the release is recorded as failed.
 * Returns the error to throw, with what was rolled back in its hint.
 */
async function revert(ctx: Ctx, hosts: HostRun[], e: unknown): Promise<ShipError> {
  const err = toShipError(e);
  ctx.error = err;
  const colors = colorsOf(ctx);
  const failed = ctx.command === 'rollback' ? undefined : ctx.release;
  const undone: string[] = [];
  let incomplete: string | undefined;
  // Only hosts whose lock is still this run's: where another run holds it, its state wins.
  const held = await stillLocked(ctx, hosts);
  if (held.length < hosts.length) incomplete = 'this run lost its lock';
  await forEachHost(ctx, 'revert', held, async (h) => {
    const r = await hostColors(h);
    const before: ColorState = r.before;
    const moved = (['blue', 'green'] as Color[]).some((c) => r.state.weights[c] !== before.weights[c]) || !!r.state.canary !== !!before.canary || r.state.route !== before.route;
    if (moved && before.live) {
      r.state.weights = { ...before.weights };
      r.state.live = before.live;
      r.state.canary = before.canary;
      r.state.route = before.route;
      await ensureLocks(ctx, [h]);
      await applyRouter(ctx, h, colors, r.state);
    }
    if (h.switchedFrom !== undefined && h.switchedFrom && h.currentId !== h.switchedFrom) await switchHost(ctx, h, h.switchedFrom, 'rollback');
    if (failed && h.dirs.includes(failed) && !h.history.some((x) => x.action === 'failure' && x.release === failed)) {
      await record(ctx, h, { action: 'failure', release: failed, states: { [failed]: 'failed' }, message: err.message });
    }
    if (moved || h.switchedFrom !== undefined) undone.push(`${h.name} -> ${before.live ?? '(nothing)'} (${before.live ? before.releases[before.live] : ''})`);
  }).catch((x) => {
    incomplete = toShipError(x).message;
    ctx.events.warn(`moving traffic back failed: ${incomplete}`);
  });
  if (!isFailure(err)) return err;
  const hint = incomplete
    ? `moving traffic back was incomplete (${incomplete}); check: ship status ${ctx.stage.name}`
    : undone.length
      ? `traffic back on the old color: ${undone.join(', ')}${err.hint ? `; ${err.hint}` : ''}`
      : err.hint;
  const out = new ShipError(err.message, { host: err.host, reason: err.reason, hint, cause: err });
  ctx.error = out;
  return out;
}

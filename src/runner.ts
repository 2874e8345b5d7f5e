import type { Ctx, HostRun } from './context.js';
import { forEachHost, runUserCommand } from './context.js';
import { toShipError, ShipError } from './errors.js';
import { runHook } from './hooks.js';
import { record } from './host-state.js';
import { switchHost } from './switch.js';
import type { Step } from './steps/types.js';

/** A flow is an ordered list of steps; a rollout runs its steps batch by batch. */
export type FlowItem = Step | { rollout: Step[] };

export async function runStep(ctx: Ctx, step: Step, hosts: HostRun[]): Promise<void> {
  if (ctx.interrupted) throw new ShipError('interrupted', { reason: 'interrupted' });
  await runHook(ctx, `before:${step.name}`, hosts);
  const t0 = Date.now();
  ctx.events.emit({ type: 'step', step: step.name, status: 'start' });
  try {
    await step.run(ctx, hosts);
  } catch (e) {
    ctx.events.emit({ type: 'step', step: step.name, status: 'failed', ms: Date.now() - t0, message: toShipError(e).message });
    throw e;
  }
  const ms = Date.now() - t0;
  ctx.stepMs[step.name] = (ctx.stepMs[step.name] ?? 0) + ms;
  ctx.events.emit({ type: 'step', step: step.name, status: 'done', ms });
  await runHook(ctx, `after:${step.name}`, hosts);
}

/** Splits the hosts into the batches of the stage's strategy. */
export function planBatches<T>(hosts: T[], strategy: Ctx['stage']['strategy']): T[][] {
  if (strategy.type === 'all-at-once' || hosts.length === 0) return [hosts];
  const batches: T[][] = [];
  let rest = hosts;
  if (strategy.type === 'canary') {
    batches.push(rest.slice(0, strategy.canary));
    rest = rest.slice(strategy.canary);
  }
  for (let i = 0; i < rest.length; i += strategy.batchSize) batches.push(rest.slice(i, i + strategy.batchSize));
  return batches.filter((b) => b.length);
}

export interface FlowResult {
  /** Hosts left for `ship switch` by a paused canary. */
  paused?: HostRun[];
}

export async function runFlow(ctx: Ctx, flow: FlowItem[]): Promise<FlowResult> {
  for (const item of flow) {
    if ('rollout' in item) {
      const r = await rollout(ctx, item.rollout);
      if (r.paused) return r;
    } else {
      await runStep(ctx, item, ctx.hosts);
    }
  }
  return {};
}

async function rollout(ctx: Ctx, steps: Step[]): Promise<FlowResult> {
  const strategy = ctx.opts.strategy ?? ctx.stage.strategy;
  const batches = planBatches(ctx.hosts, strategy);
  const batched = strategy.type !== 'all-at-once';
  for (const [i, batch] of batches.entries()) {
    if (ctx.interrupted) break; // a batch in flight finishes; the rest stay on their release
    try {
      if (batched) await runHook(ctx, 'drain', batch);
      for (const step of steps) await runStep(ctx, step, batch);
      if (batched) await runHook(ctx, 'undrain', batch);
    } catch (e) {
      ctx.error = toShipError(e);
      await revertSwitched(ctx);
      throw e;
    }
    if (strategy.type === 'canary' && i === 0 && ctx.opts.pause && batches.length > 1) {
      return { paused: batches.slice(1).flat() };
    }
  }
  if (ctx.interrupted) throw new ShipError('interrupted during the switch: the batch in flight finished, the other hosts stay on their release', { reason: 'interrupted' });
  return {};
}

/**
 * After a failed reload or health check: every host this run flipped goes back to the
 * release it had, is reloaded, and the release that failed is recorded as failed.
 */
export async function revertSwitched(ctx: Ctx): Promise<void> {
  const flipped = ctx.hosts.filter((h) => h.switchedFrom !== undefined && h.currentId !== (h.switchedFrom ?? undefined));
  if (!flipped.length) return;
  ctx.events.warn(`rolling back ${flipped.map((h) => h.name).join(', ')} after: ${ctx.error?.message ?? 'a failure'}`);
  await forEachHost(ctx, 'revert', flipped, async (h) => {
    const back = h.switchedFrom;
    const left = h.currentId;
    if (!back) {
      ctx.events.warn(`no earlier release to go back to; current stays on ${left}`, h.name);
      return;
    }
    await switchHost(ctx, h, back, 'rollback');
    if (left && ctx.command === 'deploy') await record(ctx, h, { action: 'failure', release: left, states: { [left]: 'failed' }, message: ctx.error?.message });
    if (ctx.stage.reload) await runUserCommand(ctx, h, ctx.stage.reload, `reload (${ctx.stage.reload})`, h.paths.current);
  });
}

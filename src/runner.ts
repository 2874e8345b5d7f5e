import type { Stage } from './config/types.js';
import type { Ctx, HostRun } from './context.js';
import { forEachHost, runUserCommand } from './context.js';
import { isFailure, toShipError, ShipError, UsageError } from './errors.js';
import { BEFORE_CONNECT_HOOKS, runHook, type HookOptions } from './hooks.js';
import { record } from './host-state.js';
import { ensureLocks, stillLocked } from './lock.js';

import { flipLink, removeNext, switchHost, unlinkCurrent } from './flip.js';
import type { Step } from './steps/types.js';
import { ReadOnlyTransport } from './transport/read-only.js';
import { secretsTransport } from './transport/secrets.js';
import { traceTransport } from './transport/trace.js';
import type { Transport } from './transport/types.js';
import { isStrategyName, STRATEGY_NAMES, strategyOf } from './strategies/index.js';

/** A run's options (the CLI's flags; the programmatic API takes the same). */
export interface RunOptions {
  dryRun?: boolean;
  lockWait?: number;
  noSwitch?: boolean;
  /** Overrides of the stage's strategy (--strategy, --batch, --canary). */
  strategy?: Partial<Stage['strategy']>;
  pause?: boolean;
  force?: boolean;
  to?: string;
  keep?: number;
  /** Extra words (ship exec). */
  args?: string[];
  contract?: boolean;
  /** ship setup --upload / --upload-secret: name in shared/ -> local file (absolute or relative to the working directory). */
  uploads?: { name: string; from: string; secret?: boolean }[];
  /** Time source, for tests. */
  now?: () => Date;
  /** --verbose: hosts report each remote command as a `command` event (transport/trace.ts). */
  verbose?: boolean;
}

/** An item of a flow: a step, or a rollout that runs its steps batch by batch. */
export type FlowItem = Step | { rollout: Step[] };

/** A flow: its steps in order, and its policy on failure (src/flows.ts lists them all). */
export interface Flow {
  name: string;
  steps: FlowItem[];
  /**
   * When its rollout fails, the release it was making live is recorded as failed: on the
   * hosts it reverted ('reverted'), or on every host with `next` removed there too
   * ('everywhere', ship switch). A rollback marks nothing.
   */
  marksFailed: 'none' | 'reverted' | 'everywhere';
  /** What this flow leaves behind that a failure must undo (before unlock and `failed` hooks). */
  onFailure?: (ctx: Ctx, error: ShipError) => Promise<void>;
}

export type Strategy = Stage['strategy'];

/** Where a step runs inside a rollout: its batch (1-based) of how many. */
export interface BatchScope {
  batch?: number;
}


/**
 * Runs one step over `hosts` between its before:/after: hooks, with step events. An
 * interrupt (Ctrl-C) stops the flow before the next step, except inside a rollout batch
 * (`inFlight`): a batch that started flipping finishes.
 */
export async function runStep(ctx: Ctx, step: Step, hosts: HostRun[], scope: BatchScope = {}, inFlight = false): Promise<void> {
  if (ctx.interrupted && !inFlight) throw new ShipError('interrupted', { reason: 'interrupted' });
  const t0 = Date.now();
  ctx.events.emit({ type: 'step', step: step.name, status: 'start', ...scope });
  try {
    await runOrPreviewHook(ctx, `before:${step.name}`, hosts, {}, { hostsReady: !BEFORE_CONNECT_HOOKS.includes(`before:${step.name}`) });
    await ensureLocks(ctx); // a run that lost a lock changes nothing more
    if (ctx.opts.dryRun && step.preview) await step.preview(ctx, hosts);
    else await step.run(ctx, hosts);
    await runOrPreviewHook(ctx, `after:${step.name}`, hosts, {}, { hostsReady: !BEFORE_CONNECT_HOOKS.includes(`after:${step.name}`) });
  } catch (e) {
    ctx.events.emit({ type: 'step', step: step.name, status: 'failed', ms: Date.now() - t0, message: toShipError(e).message, ...scope });
    throw e;
  }
  const ms = Date.now() - t0;
  const hooked = !!(ctx.stage.hooks[`before:${step.name}`] ?? ctx.stage.hooks[`after:${step.name}`]);
  const skipped = hooked ? undefined : step.skip?.(ctx, hosts);
  if (skipped) {
    ctx.events.emit({ type: 'step', step: step.name, status: 'skipped', message: skipped, ...scope });
    return;
  }
  ctx.stepMs[step.name] = (ctx.stepMs[step.name] ?? 0) + ms;
  ctx.events.emit({ type: 'step', step: step.name, status: 'done', ms, ...scope });
}

/**
 * Runs a hook, or under --dry-run says what it would run: hooks are the user's commands,
 * which may write anything, so a dry run never starts them.
 */
export async function runOrPreviewHook(ctx: Ctx, hook: string, hosts: HostRun[], extraEnv: Record<string, string> = {}, opts: HookOptions = {}): Promise<void> {
  if (!ctx.opts.dryRun) return runHook(ctx, hook, hosts, extraEnv, opts);
  for (const command of ctx.stage.hooks[hook] ?? []) {
    const local = command.startsWith('local:');
    ctx.events.log(`would run hook ${hook}${local ? ' on this machine' : ` on ${hosts.map((h) => h.name).join(', ')}`}: ${local ? command.slice('local:'.length).trim() : command}`);
  }
}

/** What a run is about to do: the `plan` event that opens its output. */
export interface Plan {
  command: string;
  stage: string;
  release?: string;
  hosts: string[];
  steps: string[];
  strategy?: string;
  /** Nothing will be written: steps preview, hosts are read-only. */
  dryRun: boolean;
  /** What a query-style command will do, line by line. */
  actions?: string[];
}

export function emitPlan(ctx: Ctx, steps: string[]): void {
  ctx.events.emit({
    type: 'plan',
    command: ctx.command,
    stage: ctx.stage.name,
    hosts: ctx.hosts.map((h) => h.name),
    steps,
    strategy: ctx.stage.strategy.type,
    dryRun: !!ctx.opts.dryRun,
  });
}

/** The plan in one line, as reporters print it (`arrow` between the stage and its hosts). */
export function describePlan(p: Plan, arrow: string): string {
  return `${p.dryRun ? 'dry run: ' : ''}${p.command} ${p.stage}${p.release ? ` ${p.release}` : ''} ${arrow} ${p.hosts.join(', ')}${p.strategy ? ` (${p.strategy})` : ''}`;
}

/**
 * A host's transport as this run's options make it: under a dry run a read-only guard
 * (src/transport/read-only.ts), under --verbose a trace of every command
 * (src/transport/trace.ts). The host opener (src/hosts.ts) applies it to every host.
 */
export function runTransport(ctx: Ctx, t: Transport): Transport {
  t = secretsTransport(t, ctx.events.secrets);
  if (ctx.opts.dryRun) t = new ReadOnlyTransport(t);
  if (ctx.opts.verbose) t = traceTransport(t, ctx.events);
  return t;
}

/** Splits the hosts into the batches of the stage's strategy. */
export function planBatches<T>(hosts: T[], strategy: Strategy): T[][] {
  if (hosts.length === 0) return [hosts];
  return strategyOf(strategy).batches(hosts, strategy);
}

/**
 * The strategy a run uses: the stage's, overridden by the command line. `--canary N`
 * or `--pause` without `--strategy` mean canary; `--batch N` alone turns all-at-once
 * into rolling. Contradictions are usage errors (exit 2, before anything is contacted).
 */
export function resolveStrategy(base: Strategy, given: Partial<Strategy> = {}, pause = false): Strategy {
  const s: Strategy = { ...base };
  const whole = (v: number | undefined, flag: string) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new UsageError(`${flag} takes a whole number of at least 1 (got ${v})`);
  };
  whole(given.batchSize, '--batch');
  whole(given.canary, '--canary');
  if (given.type !== undefined && !isStrategyName(given.type)) {
    throw new UsageError(`unknown strategy '${given.type}'`, { hint: `use ${STRATEGY_NAMES.join(', ')}` });
  }
  if (given.type) s.type = given.type;
  else if (given.canary !== undefined || pause) s.type = 'canary';
  else if (given.batchSize !== undefined && s.type === 'all-at-once') s.type = 'rolling';
  if (given.batchSize !== undefined) {
    if (s.type === 'all-at-once') throw new UsageError('--batch applies to the rolling and canary strategies, not all-at-once');
    s.batchSize = given.batchSize;
  }
  if (given.canary !== undefined) {
    if (s.type !== 'canary') throw new UsageError(`--canary applies to the canary strategy, not ${s.type}`);
    s.canary = given.canary;
  }
  if (pause && s.type !== 'canary') throw new UsageError(`--pause stops after the canary batch: it needs the canary strategy, not ${s.type}`);
  return s;
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

/**
 * Runs the rollout steps (switch, reload, health) over the hosts that are not on their
 * target yet, batch by batch. Under rolling and canary each batch is drained first and
 * undrained once healthy; the next batch starts only then. Any failure flips every host
 * this run switched back (revertSwitched) and fails the run.
 */
async function rollout(ctx: Ctx, steps: Step[]): Promise<FlowResult> {
  const strategy = ctx.stage.strategy;
  const hosts = ctx.hosts.filter((h) => h.target && h.currentId !== h.target);
  const already = ctx.hosts.filter((h) => h.target && h.currentId === h.target);
  if (already.length && hosts.length) ctx.events.log(`${already.map((h) => h.name).join(', ')} already on ${already[0].target}: left alone`);
  if (!hosts.length) {
    if (ctx.hosts.length) ctx.events.log(`${ctx.release ?? 'the release'} is live on every host already`);
    return {};
  }
  const plan = strategyOf(strategy);
  const batches = planBatches(hosts, strategy);
  const batched = plan.batched;
  for (const [i, batch] of batches.entries()) {
    if (ctx.interrupted) break; // a batch in flight finishes; the rest stay on their release
    const scope: BatchScope = batched ? { batch: i + 1 } : {};
    if (batched) ctx.events.log(`${plan.label(i, batches.length)}: ${batch.map((h) => h.name).join(', ')}`);
    let drained = false;
    try {
      if (batched) {
        drained = true; // a drain that failed on one host may have drained the others
        await runOrPreviewHook(ctx, 'drain', batch);
      }
      for (const step of steps) await runStep(ctx, step, batch, scope, true);
      if (batched) {
        drained = false;
        await runOrPreviewHook(ctx, 'undrain', batch);
      }
    } catch (e) {
      throw await failRollout(ctx, e, drained ? batch : []);
    }
    if (plan.pausesAfter(i) && ctx.opts.pause && i < batches.length - 1) {
      const rest = batches.slice(1).flat();
      await stageForLater(ctx, rest);
      ctx.events.log(`paused after the canary (${batch.map((h) => h.name).join(', ')}); ${rest.map((h) => h.name).join(', ')} stay on their release`);
      return { paused: rest };
    }
  }
  if (ctx.interrupted) throw new ShipError('interrupted during the switch: the batch in flight finished, the other hosts stay on their release', { reason: 'interrupted' });
  return {};
}

/** A paused canary points `next` at the release on the hosts it left, for `ship switch`. */
async function stageForLater(ctx: Ctx, hosts: HostRun[]): Promise<void> {
  if (ctx.opts.dryRun) return;
  await ensureLocks(ctx, hosts);
  await forEachHost(ctx, 'next', hosts, async (h) => {
    if (!h.target) return;
    await flipLink(h, h.target, 'next');
    h.nextId = h.target;
    return `next -> ${h.target}`;
  });
}

/**
 * After a failure inside the rollout: reverts the hosts this run switched, undrains the
 * batch in flight once it is back on its release, and returns the error to throw (the
 * original one, with a hint saying what was rolled back).
 */
async function failRollout(ctx: Ctx, e: unknown, drained: HostRun[]): Promise<ShipError> {
  const err = toShipError(e);
  ctx.error = err;
  const failedRelease = ctx.release;
  const { reverted, incomplete } = await revertSwitched(ctx);
  if (drained.length && !incomplete) {
    await runHook(ctx, 'undrain', drained).catch((x) => ctx.events.warn(`undrain after the rollback failed: ${toShipError(x).message}`));
  }
  if (ctx.flow?.marksFailed === 'everywhere' && failedRelease && reverted.length) await markFailedEverywhere(ctx, failedRelease, err);
  if (!reverted.length || !isFailure(err)) return err;
  const where = reverted.map((h) => `${h.name} -> ${h.currentId ?? '(no release)'}`).join(', ');
  const hint = incomplete
    ? `the automatic rollback was incomplete (${incomplete}); check the hosts with: ship status ${ctx.stage.name}`
    : `rolled back: ${where}${err.hint ? `; ${err.hint}` : ''}`;
  const out = new ShipError(err.message, { host: err.host, reason: err.reason, hint, cause: err });
  ctx.error = out;
  return out;
}

/** `ship switch` failed: the release is failed on every host, and `next` no longer points at it. */
async function markFailedEverywhere(ctx: Ctx, id: string, err: ShipError): Promise<void> {
  await forEachHost(ctx, 'mark failed', ctx.hosts, async (h) => {
    if (h.currentId !== id && h.dirs.includes(id) && !h.history.some((x) => x.action === 'failure' && x.release === id)) {
      await record(ctx, h, { action: 'failure', release: id, states: { [id]: 'failed' }, message: err.message });
    }
    if (h.nextId === id) await removeNext(h);
  }).catch((x) => ctx.events.warn(`could not mark ${id} failed everywhere: ${toShipError(x).message}`));
}

/**
 * After a failed reload or health check: every host this run flipped goes back to the
 * release it had (on a first deploy: to no release), is reloaded, and the release that
 * failed is recorded as failed there. Never throws: a host that cannot be reverted is
 * reported in `incomplete`.
 */
export async function revertSwitched(ctx: Ctx): Promise<{ reverted: HostRun[]; incomplete?: string }> {
  const switched = ctx.hosts.filter((h) => h.switchedFrom !== undefined && h.currentId !== (h.switchedFrom ?? undefined));
  if (!switched.length) return { reverted: [] }; // a dry run switches nothing
  const flipped = await stillLocked(ctx, switched); // where another run holds the lock now, its state wins
  if (!flipped.length) return { reverted: [], incomplete: 'this run lost its lock' };
  ctx.events.warn(`rolling back ${flipped.map((h) => h.name).join(', ')} after: ${firstLine(ctx.error?.message ?? 'a failure')}`);
  const markFailed = !!ctx.flow && ctx.flow.marksFailed !== 'none';
  let incomplete: string | undefined;
  await forEachHost(ctx, 'revert', flipped, async (h) => {
    const back = h.switchedFrom ?? undefined;
    const left = h.currentId;
    if (back) await switchHost(ctx, h, back, 'rollback');
    else await unlinkCurrent(ctx, h);
    if (left && markFailed) {
      await record(ctx, h, { action: 'failure', release: left, states: { [left]: 'failed' }, message: ctx.error?.message });
    }
    if (back && ctx.stage.reload) {
      await runUserCommand(ctx, h, ctx.stage.reload, `reload (${ctx.stage.reload}) after the rollback`, h.paths.current, {
        SHIP_RELEASE: back,
        SHIP_RELEASE_PATH: h.paths.release(back),
        SHIP_PREVIOUS_RELEASE: left ?? '',
      });
    }
    return back ? `back on ${back}` : 'no release was live before: current removed';
  }).catch((e) => {
    incomplete = toShipError(e).message;
    ctx.events.warn(`the automatic rollback failed: ${incomplete}`);
  });
  return { reverted: flipped, incomplete };
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

import path from 'node:path';
import { loadConfig, type LoadOptions } from './config/load.js';
import type { Stage } from './config/types.js';
import { newCtx, type Command, type Ctx, type RunOptions } from './context.js';
import { isLockConflict, ShipError, UsageError, type ExitCode } from './errors.js';
import { watchRun, type StopSignals } from './exit.js';
import { Events } from './events.js';
import { releaseLocks } from './lock.js';
import { emitPlan, resolveStrategy, runFlow, runOrPreviewHook, type Flow, type FlowItem } from './runner.js';
import { stepsOf } from './flows.js';
import { openHosts } from './hosts.js';
import { recordRun } from './run-record.js';

export interface CommandOptions extends LoadOptions, RunOptions, StopSignals {
  stage: string;
  /** Only these hosts (names), or only hosts with one of these roles. */
  hosts?: string[];
  roles?: string[];
  /** Hosts worked on at once (default: the stage's `concurrency`, 8). */
  concurrency?: number;
  events?: Events;
}

export interface CommandResult {
  exitCode: ExitCode;
  release?: string;
  error?: ShipError;
  ctx?: Ctx;
}

export async function loadStage(o: CommandOptions): Promise<Stage> {
  const cfg = await loadConfig({ cwd: o.cwd, configFile: o.configFile });
  if (cfg.shadowed?.length) o.events?.warn(`several config files in ${cfg.dir}: ${[cfg.file, ...cfg.shadowed].map((f) => path.basename(f)).join(', ')}; ship uses ${path.basename(cfg.file)}`);
  for (const w of cfg.warnings ?? []) o.events?.warn(w);
  const stage = cfg.stage(o.stage);
  let hosts = stage.hosts;
  if (o.hosts?.length) {
    const unknown = o.hosts.filter((n) => !hosts.some((h) => h.name === n));
    if (unknown.length) throw new UsageError(`unknown host${unknown.length > 1 ? 's' : ''} in --hosts: ${unknown.join(', ')}`, { hint: `hosts of ${stage.name}: ${hosts.map((h) => h.name).join(', ')}` });
    hosts = hosts.filter((h) => o.hosts!.includes(h.name));
  }
  if (o.roles?.length) {
    hosts = hosts.filter((h) => h.roles.some((r) => o.roles!.includes(r)));
    if (!hosts.length) throw new UsageError(`no host of ${stage.name} has role ${o.roles.join(' or ')}`);
  }
  if (o.concurrency !== undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) {
    throw new UsageError('--concurrency takes a whole number of at least 1');
  }
  return { ...stage, hosts, allHosts: stage.hosts, concurrency: o.concurrency ?? stage.concurrency, strategy: resolveStrategy(stage.strategy, o.strategy, o.pause) };
}

/** A flow given as a bare list of steps (a query's connect + read): nothing to mark or undo on failure. */
function asFlow(name: string, f: Flow | FlowItem[]): Flow {
  return Array.isArray(f) ? { name, steps: f, marksFailed: 'none' } : f;
}

/**
 * Runs one command over a stage: open the hosts, the flow, and — whatever happens — the
 * clean-up docs/architecture.md describes under The flow (the flow's own `onFailure`,
 * `failed` hooks, the run's history line, unlock), then the outcome: `error` and `summary`.
 * `o.signal` / `o.cancel` stop it (src/exit.ts); ship installs no process handlers here.
 */
export async function runCommand(
  command: Command,
  o: CommandOptions,
  flowOf: Flow | FlowItem[] | ((stage: Stage) => Flow),
  after?: (ctx: Ctx) => Promise<void>,
): Promise<CommandResult> {
  const events = o.events ?? new Events();
  const stage = await loadStage(o);
  const flow = asFlow(command, typeof flowOf === 'function' ? flowOf(stage) : flowOf);
  const ctx = newCtx(command, stage, events, o);
  ctx.flow = flow;
  const watch = watchRun(ctx, o);
  let error: ShipError | undefined;
  try {
    ctx.hosts = await openHosts(ctx);
    emitPlan(ctx, stepsOf(flow).map((s) => s.name));
    const r = await runFlow(ctx, flow.steps);
    if (r.paused) ctx.paused = r.paused.map((h) => h.name);
    if (after) await after(ctx);
  } catch (e) {
    error = watch.error(e);
    ctx.error ??= error;
    await cleanUpAfterFailure(ctx, error);
  } finally {
    await recordRun(ctx, error).catch(() => {});
    await releaseLocks(ctx).catch(() => {});
    await Promise.all(ctx.hosts.map((h) => h.t.close().catch(() => {})));
    watch.dispose();
  }
  const exitCode = events.outcome({
    command,
    stage: stage.name,
    error,
    release: ctx.release,
    hosts: ctx.hosts.map((h) => h.name),
    ms: Date.now() - ctx.startedAt.getTime(),
    steps: ctx.stepMs,
    bytesSent: ctx.bytesSent,
    pruned: ctx.pruned,
    dryRun: !!o.dryRun,
    message: ctx.paused
      ? `paused after the canary; continue with: ship switch ${stage.name} ${ctx.release}`
      : flow.name === 'staged' && !error
        ? `staged as next; make it live with: ship switch ${stage.name}`
        : undefined,
  });
  return { exitCode, release: ctx.release, error, ctx };
}

async function cleanUpAfterFailure(ctx: Ctx, error: ShipError): Promise<void> {
  await ctx.flow?.onFailure?.(ctx, error);
  // A lock conflict is no failure: another run is at work. Usage errors never got this far.
  if (!isLockConflict(error) && !(error instanceof UsageError)) {
    const connected = ctx.hosts.filter((h) => h.connected);
    await runOrPreviewHook(ctx, 'failed', connected, { SHIP_ERROR: error.message }).catch((e) =>
      ctx.events.warn(`the failed hook failed too: ${(e as Error).message}`),
    );
  }
}

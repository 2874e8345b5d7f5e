import path from 'node:path';
import { loadConfig, type LoadOptions } from './config/load.js';
import type { Stage } from './config/types.js';
import { newCtx, forEachHost, type Ctx, type RunOptions } from './context.js';
import { ShipError, toShipError, UsageError, type ExitCode } from './errors.js';
import { guardExits } from './exit.js';
import { Events } from './events.js';
import { record } from './host-state.js';
import { releaseLocks } from './lock.js';
import { emitPlan, resolveStrategy, runFlow, runOrPreviewHook, type FlowItem } from './runner.js';
import { stepsOf } from './flows.js';
import { openHosts } from './steps/connect.js';
import { recordRun } from './run-record.js';

export interface CommandOptions extends LoadOptions, RunOptions {
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
  return { ...stage, hosts, concurrency: o.concurrency ?? stage.concurrency, strategy: resolveStrategy(stage.strategy, o.strategy, o.pause) };
}

/**
 * Runs one command over a stage: connect, the flow, and — whatever happens — the
 * clean-up docs/architecture.md describes under The flow (failed marks, .partial removal, unlock, `failed` hooks).
 */
export async function runCommand(command: string, o: CommandOptions, flowOf: FlowItem[] | ((stage: Stage) => FlowItem[]), after?: (ctx: Ctx) => Promise<void>): Promise<CommandResult> {
  const events = o.events ?? new Events();
  const stage = await loadStage(o);
  const flow = typeof flowOf === 'function' ? flowOf(stage) : flowOf;
  const ctx = newCtx(command, stage, events, o);
  const guard = guardExits(ctx);
  let error: ShipError | undefined;
  try {
    ctx.hosts = await openHosts(ctx);
    emitPlan(ctx, stepsOf(flow).map((s) => s.name));
    const r = await runFlow(ctx, flow);
    if (r.paused) ctx.paused = r.paused.map((h) => h.name);
    if (after) await after(ctx);
  } catch (e) {
    error = guard.error(e);
    ctx.error ??= error;
    await cleanUpAfterFailure(ctx, error);
  } finally {
    await recordRun(ctx, error).catch(() => {});
    await releaseLocks(ctx).catch(() => {});
    await Promise.all(ctx.hosts.map((h) => h.t.close().catch(() => {})));
    guard.dispose();
  }
  const exitCode: ExitCode = error ? error.exitCode : 0;
  if (error) events.emit({ type: 'error', code: exitCode, reason: error.reason, message: error.message, host: error.host, hint: error.hint });
  events.emit({
    type: 'summary',
    command,
    stage: stage.name,
    release: ctx.release,
    exitCode,
    hosts: ctx.hosts.map((h) => h.name),
    ms: Date.now() - ctx.startedAt.getTime(),
    steps: ctx.stepMs,
    bytesSent: ctx.bytesSent,
    pruned: ctx.pruned,
    message: ctx.paused
      ? `paused after the canary; continue with: ship switch ${stage.name} ${ctx.release}`
      : o.noSwitch && command === 'deploy' && !error
        ? `staged as next; make it live with: ship switch ${stage.name}`
        : undefined,
  });
  return { exitCode, release: ctx.release, error, ctx };
}

async function cleanUpAfterFailure(ctx: Ctx, error: ShipError): Promise<void> {
  const id = ctx.release;
  if (ctx.command === 'deploy' && id) {
    const mine = ctx.hosts.filter((h) => h.lockHeld);
    await forEachHost(ctx, 'cleanup', mine, async (h) => {
      // An aborted upload's unpacker may still be writing for a moment: one more try.
      await h.t.remove(h.paths.partial(id)).catch(async () => {
        await new Promise((r) => setTimeout(r, 500));
        await h.t.remove(h.paths.partial(id));
      });
      if (h.published && !h.history.some((e) => e.action === 'failure' && e.release === id)) {
        if (h.currentId !== id) await record(ctx, h, { action: 'failure', release: id, states: { [id]: 'failed' }, message: error.message });
      }
    }).catch((e) => ctx.events.warn(`clean-up after the failure was incomplete: ${(e as Error).message}`));
  }
  // A lock conflict is no failure: another run is at work. Usage errors never got this far.
  if (error.exitCode === 1 || error.exitCode === 4) {
    const connected = ctx.hosts.filter((h) => h.connected);
    await runOrPreviewHook(ctx, 'failed', connected, { SHIP_ERROR: error.message }).catch((e) =>
      ctx.events.warn(`the failed hook failed too: ${(e as Error).message}`),
    );
  }
}

import { localUser } from './local-user.js';
import pLimit from 'p-limit';
import type { HostConfig, Stage } from './config/types.js';
import path from 'node:path';
import { CommandError, InternalError, severity, ShipError, toShipError } from './errors.js';
import type { Events } from './events.js';
import { Paths } from './paths.js';
import type { HistoryEntry } from './releases.js';
import { raw, type Shell } from './shell.js';
import type { ExecOptions, ExecResult, Transport } from './transport/types.js';
import type { Flow } from './runner.js';

export type { RunOptions } from './runner.js';
import type { RunOptions } from './runner.js';

/** What a run knows about one host. */
export interface HostRun {
  cfg: HostConfig;
  name: string;
  t: Transport;
  /** deployTo, absolute on the host. */
  root: string;
  paths: Paths;
  currentId?: string;
  nextId?: string;
  history: HistoryEntry[];
  dirs: string[];
  /** The connection is open (the `failed` hook runs on such hosts). */
  connected?: boolean;
  lockHeld: boolean;
  /** The release this run published here. */
  published: boolean;
  /** Set once `current` was flipped by this run: the release it pointed at before (null: none). */
  switchedFrom?: string | null;
  /** Where host hooks and commands run now (the release being deployed, else deployTo). */
  cwd: string;
  /** The release this run puts live here (deploy: the new one; rollback: the target). */
  target?: string;
}

export interface BuildInfo {
  dir: string;
  revision?: string;
  /** The git work tree had uncommitted changes when it was built. */
  dirty?: boolean;
  files: { path: string; size: number; mode: number; sha256: string }[];
  links: { path: string; target: string }[];
  dirs: string[];
  bytes: number;
}

/** The commands of ship that run over a stage. */
export type Command = 'deploy' | 'rollback' | 'switch' | 'setup' | 'releases' | 'prune' | 'unlock' | 'status' | 'migrate' | 'check' | 'maintenance' | 'exec' | 'history' | 'ssh';

export interface Ctx {
  command: Command;
  /** The flow this run follows (a query's ad-hoc list of steps has none). */
  flow?: Flow;
  stage: Stage;
  events: Events;
  opts: RunOptions;
  release?: string;
  hosts: HostRun[];
  build?: BuildInfo;
  bytesSent: number;
  pruned: Record<string, string[]>;
  stepMs: Record<string, number>;
  user: string;
  startedAt: Date;
  interrupted: boolean;
  /** Set when a step failed; `failed` hooks see it as SHIP_ERROR. */
  error?: ShipError;
  /** Hosts a paused canary left for `ship switch`. */
  paused?: string[];
}

export function newCtx(command: Command, stage: Stage, events: Events, opts: RunOptions): Ctx {
  // Known before anything runs, so no output or history line can carry them (src/redact.ts).
  events.secrets.addEnv(stage.env);
  for (const h of stage.allHosts ?? stage.hosts) {
    events.secrets.addEnv(h.env);
    if (h.ssh.passphrase) events.secrets.add(h.ssh.passphrase);
  }
  return {
    command,
    stage,
    events,
    opts,
    hosts: [],
    bytesSent: 0,
    pruned: {},
    stepMs: {},
    user: localUser(),
    startedAt: new Date(),
    interrupted: false,
  };
}


/** Where ship keeps its local state for this project: the hash and manifest caches. */
export function localCacheDir(ctx: Ctx): string {
  return path.join(ctx.stage.configDir, '.ship', 'cache');
}

/** The release this deploy makes and its build, for a step that needs both (else a bug in the flow). */
export function newRelease(ctx: Ctx, step: string): { id: string; build: BuildInfo } {
  if (!ctx.release || !ctx.build) throw new InternalError(`${step} before the build and the release id`);
  return { id: ctx.release, build: ctx.build };
}

/** More SHIP_* values per host, set by a feature for the rest of the run (two colors: SHIP_COLOR, SHIP_PORT). */
export const hostExtraEnv = new WeakMap<HostRun, Record<string, string>>();

/** SHIP_* variables plus the stage's and host's env, for every user command on a host. */
export function hostEnv(ctx: Ctx, h: HostRun): Record<string, string> {
  const release = h.target ?? ctx.release ?? '';
  const previous = h.switchedFrom ?? h.currentId ?? '';
  return {
    ...h.cfg.env,
    SHIP_STAGE: ctx.stage.name,
    SHIP_RELEASE: release,
    SHIP_RELEASE_PATH: release ? h.paths.release(release) : '',
    SHIP_DEPLOY_TO: h.root,
    SHIP_PREVIOUS_RELEASE: previous === release ? '' : previous,
    SHIP_HOST: h.name,
    ...hostExtraEnv.get(h),
  };
}

/** Runs a command on a host; a non-zero exit becomes a CommandError naming `what`. */
export async function run(h: HostRun, cmd: Shell, what: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await h.t.exec(cmd, opts);
  if (r.code !== 0) throw new CommandError(h.name, what, r);
  return r;
}

/** A user-supplied command (hook, reload, migration runner) with the full environment. */
export function runUserCommand(ctx: Ctx, h: HostRun, command: string, what: string, cwd = h.cwd, extraEnv: Record<string, string> = {}) {
  return run(h, raw(command), what, {
    cwd,
    env: { ...hostEnv(ctx, h), ...extraEnv },
    envFile: ctx.stage.envFile && cwd !== h.root ? ctx.stage.envFile : undefined,
  });
}

/**
 * Runs `fn` on each host with bounded parallelism, emitting per-host step events.
 * Every host finishes (or fails) before the first failure is thrown.
 */
export async function forEachHost(ctx: Ctx, step: string, hosts: HostRun[], fn: (h: HostRun) => Promise<string | void>): Promise<void> {
  const limit = pLimit(ctx.stage.concurrency);
  const errors: ShipError[] = [];
  await Promise.all(
    hosts.map((h) =>
      limit(async () => {
        const t0 = Date.now();
        try {
          const message = await fn(h);
          ctx.events.emit({ type: 'step', step, status: 'done', host: h.name, ms: Date.now() - t0, message: message || undefined });
        } catch (e) {
          const err = toShipError(e);
          errors.push(err);
          ctx.events.emit({ type: 'step', step, status: 'failed', host: h.name, ms: Date.now() - t0, message: err.message });
        }
      }),
    ),
  );
  if (errors.length) {
    // The most telling error: unreachable hosts first, then locks, then the rest.
    errors.sort((a, b) => severity(b) - severity(a));
    throw errors[0];
  }
}

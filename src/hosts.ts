/**
 * The one way a run opens a host: a transport for its config, a HostRun that knows
 * nothing yet, then `connectHost` (connect, resolve `~/` in deployTo, read the state).
 * The run's own hosts (steps/connect.ts), hosts outside a `--hosts` run that migrations
 * must read (migrations/remote.ts) and `ship status` all come through here.
 */
import path from 'node:path/posix';
import type { HostConfig } from './config/types.js';
import type { Ctx, HostRun } from './context.js';
import { readHostState } from './host-state.js';
import { Paths } from './paths.js';
import { createTransport } from './transport/index.js';
import { runTransport } from './runner.js';

/** A HostRun for `cfg`, not yet connected. */
export async function openHost(ctx: Ctx, cfg: HostConfig): Promise<HostRun> {
  const t = runTransport(ctx, await createTransport(cfg, (m) => ctx.events.warn(m, cfg.name)));
  return {
    cfg,
    name: cfg.name,
    t,
    root: cfg.deployTo,
    paths: new Paths(cfg.deployTo),
    history: [],
    dirs: [],
    lockHeld: false,
    published: false,
    cwd: cfg.deployTo,
  };
}

/** HostRuns for the given hosts (default: the run's), not yet connected. */
export function openHosts(ctx: Ctx, cfgs: HostConfig[] = ctx.stage.hosts): Promise<HostRun[]> {
  return Promise.all(cfgs.map((cfg) => openHost(ctx, cfg)));
}

/** Connects (verifying the host key), resolves a `~/` deployTo, and reads the host's releases. */
export async function connectHost(h: HostRun): Promise<void> {
  await h.t.connect();
  h.connected = true;
  if (h.cfg.deployTo.startsWith('~/')) {
    h.root = path.join(await h.t.home(), h.cfg.deployTo.slice(2));
    h.paths = new Paths(h.root);
  }
  h.cwd = h.root;
  await readHostState(h);
}

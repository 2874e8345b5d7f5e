/** What a two-color run knows about each host, shared by its steps (start, health, switch). */
import type { Colors } from '../config/types.js';
import type { Ctx, HostRun } from '../context.js';
import { hostEnv, hostExtraEnv } from '../context.js';
import { InternalError, toShipError } from '../errors.js';
import { otherColor, type Color } from './gates.js';
import { fillCommand, portsOf, readState, writeState, type ColorState } from './router.js';

export interface HostColors {
  /** The state as it is now on the host (kept in step with state.json). */
  state: ColorState;
  /** The state when this run read it: what a failed switch goes back to. */
  before: ColorState;
  /** The color the target release runs on (or will). */
  fresh?: Color;
  /** This run started the target's process (a failed health check stops it again). */
  started?: boolean;
}

const runtime = new WeakMap<HostRun, HostColors>();

export function colorsOf(ctx: Ctx): Colors {
  const c = ctx.stage.colors;
  if (!c) throw new InternalError('a two-color step on a stage without processes');
  return c;
}

/** The host's color state, read once per run. */
export async function hostColors(h: HostRun): Promise<HostColors> {
  let r = runtime.get(h);
  if (!r) {
    const state = await readState(h);
    r = { state, before: structuredClone(state) };
    runtime.set(h, r);
  }
  return r;
}

/** The color a new release goes to: the one not live (blue on a first deploy). */
export function idleColor(s: ColorState): Color {
  return s.live ? otherColor(s.live) : 'blue';
}

/** The color that runs `release` here, if any. */
export function colorOf(s: ColorState, release: string): Color | undefined {
  return (['blue', 'green'] as Color[]).find((c) => s.releases[c] === release);
}

export function setColorEnv(h: HostRun, colors: Colors, c: Color): void {
  hostExtraEnv.set(h, { SHIP_COLOR: c, SHIP_PORT: String(portsOf(h, colors)[c]) });
}

/** Runs `processes.start` or `stop` for one color, in that release's directory. */
export async function processCommand(ctx: Ctx, h: HostRun, which: 'start' | 'stop', c: Color, release: string) {
  const colors = colorsOf(ctx);
  const vars = { release, releasePath: h.paths.release(release), port: portsOf(h, colors)[c], color: c };
  const cmd = fillCommand(which === 'start' ? colors.start : colors.stop, vars);
  const cwd = (await h.t.stat(vars.releasePath))?.type === 'dir' ? vars.releasePath : h.root;
  return h.t.exec(cmd, { cwd, env: { ...hostEnv(ctx, h), SHIP_COLOR: c, SHIP_PORT: String(vars.port), SHIP_RELEASE: release, SHIP_RELEASE_PATH: vars.releasePath }, timeoutMs: 120_000 });
}

/** Stops what runs on a color (a failing stop is a warning: the port may be free already). */
export async function stopColor(ctx: Ctx, h: HostRun, r: HostColors, c: Color): Promise<void> {
  const release = r.state.releases[c];
  if (!release) return;
  try {
    const res = await processCommand(ctx, h, 'stop', c, release);
    if (res.code !== 0) ctx.events.warn(`stopping ${release} on ${c} exited ${res.code}: ${(res.stderr || res.stdout).trim().split('\n').pop() ?? ''}`, h.name);
  } catch (e) {
    ctx.events.warn(`stopping ${release} on ${c} failed: ${toShipError(e).message}`, h.name);
  }
  delete r.state.releases[c];
  r.state.weights[c] = 0;
  await writeState(h, r.state);
  ctx.events.log(`stopped ${release} on ${c} (port ${portsOf(h, colorsOf(ctx))[c]})`, h.name);
}

/** What a two-color run knows about each host, shared by its steps (start, health, switch). */
import type { Colors } from '../config/types.js';
import type { Ctx, HostRun } from '../context.js';
import { forEachHost, hostEnv, hostExtraEnv } from '../context.js';
import { randomBytes } from 'node:crypto';
import { InternalError, toShipError } from '../errors.js';
import { otherColor, type Color } from './gates.js';
import { sh } from '../shell.js';
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
  /**
   * The health token the process this run started got in SHIP_HEALTH_TOKEN: random, per
   * run and host, held only here and in that process's environment (never written, never
   * printed). docs/blue-green.md, Health check.
   */
  token?: string;
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

/** A new health token (see HostColors.token). */
export function newHealthToken(): string {
  return randomBytes(24).toString('hex');
}

/**
 * Runs `processes.start` or `stop` for one color, in that release's directory. A start
 * gets `token` as SHIP_HEALTH_TOKEN; it is taken out of the output it returns.
 */
export async function processCommand(ctx: Ctx, h: HostRun, which: 'start' | 'stop', c: Color, release: string, token?: string) {
  const colors = colorsOf(ctx);
  const vars = { release, releasePath: h.paths.release(release), port: portsOf(h, colors)[c], color: c };
  const cmd = fillCommand(which === 'start' ? colors.start : colors.stop, vars);
  const cwd = (await h.t.stat(vars.releasePath))?.type === 'dir' ? vars.releasePath : h.root;
  const env = { ...hostEnv(ctx, h), SHIP_COLOR: c, SHIP_PORT: String(vars.port), SHIP_RELEASE: release, SHIP_RELEASE_PATH: vars.releasePath };
  if (!token) return h.t.exec(cmd, { cwd, env, timeoutMs: 120_000 });
  const r = await h.t.exec(cmd, { cwd, env: { ...env, SHIP_HEALTH_TOKEN: token }, timeoutMs: 120_000, redact: [token] });
  return { ...r, stdout: hideToken(r.stdout, token), stderr: hideToken(r.stderr, token) };
}

/** `text` with the health token replaced (for anything shown: a health answer, a start's output). */
export function hideToken(text: string, token: string | undefined): string {
  return token ? text.split(token).join('<health token>') : text;
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

/** The least time a color keeps running after the router change that took its last traffic. */
export const OLD_COLOR_GRACE_MS = 3000;
/** The longest ship waits, after that, for the router's connections to the color to close. */
export const DRAIN_TIMEOUT_MS = 30_000;
const DRAIN_POLL_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops, on each host, a color the router was just moved away from (at `routedAt`), once
 * the router can no longer send it a request. `router.reload` returns when the router was
 * told (`nginx -s reload` only signals the master), not when it obeys: until the master
 * has started new workers, the old ones still route by the previous file (a browser's
 * cookie still pins its chunk requests to that color), and after that they finish the
 * requests they hold. A process stopped in that time answers them with nothing: 502.
 * So each color runs on for at least OLD_COLOR_GRACE_MS after the route, and then until
 * no established TCP connection to its port is left on the host — the old workers' upstream
 * keep-alive connections close only when those workers exit — for DRAIN_TIMEOUT_MS at most.
 */
export async function retireColors(ctx: Ctx, step: string, hosts: HostRun[], routedAt: number, pick: (r: HostColors) => Color | undefined): Promise<void> {
  const grace = routedAt + OLD_COLOR_GRACE_MS - Date.now();
  if (grace > 0) await sleep(grace);
  await forEachHost(ctx, step, hosts, async (h) => {
    const r = await hostColors(h);
    const c = pick(r);
    if (!c || !r.state.releases[c]) return;
    await waitForDrain(ctx, h, c);
    await stopColor(ctx, h, r, c);
  });
}

/** Waits until nothing holds a connection to the color's port (see retireColors). */
async function waitForDrain(ctx: Ctx, h: HostRun, c: Color): Promise<void> {
  const port = portsOf(h, colorsOf(ctx))[c];
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const open = await connectionsTo(h, port);
    if (!open || ctx.interrupted) return;
    if (Date.now() >= deadline) {
      ctx.events.warn(`${open} connection(s) to ${c} (port ${port}) still open ${DRAIN_TIMEOUT_MS / 1000} s after traffic moved away; stopping it anyway`, h.name);
      return;
    }
    await sleep(DRAIN_POLL_MS);
  }
}

/**
 * Established TCP connections whose local port is `port` (the app's side of each) on the
 * host, from /proc/net/tcp and tcp6 (state 01); undefined where those cannot be read.
 */
export async function connectionsTo(h: HostRun, port: number): Promise<number | undefined> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const r = await h.t.exec(
    sh`test -r /proc/net/tcp || exit 3; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=${hex} '$4 == "01" { n = split($2, a, ":"); if (toupper(a[n]) == p) c++ } END { print c + 0 }'`,
    { readOnly: true, timeoutMs: 10_000 },
  );
  const n = Number(r.stdout.trim());
  return r.code === 0 && r.stdout.trim() !== '' && Number.isInteger(n) ? n : undefined;
}

/** Who listens on a port of a host: the uid ship runs as there, and each listening socket's owner. */
export interface Listeners {
  self: number;
  owners: Array<{ uid: number; user?: string }>;
}

/**
 * The owners of the TCP sockets listening on `port` (any address, IPv4 and IPv6), from
 * /proc/net/tcp and tcp6 (state 0A, the uid column), with the uid ship runs as on the
 * host (`id -u`); undefined where /proc/net/tcp cannot be read.
 */
export async function listenersOn(h: HostRun, port: number): Promise<Listeners | undefined> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const r = await h.t.exec(
    sh`test -r /proc/net/tcp || exit 3
id -u || exit 4
cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=${hex} '$4 == "0A" { n = split($2, a, ":"); if (toupper(a[n]) == p) print $8 }' | sort -un | while read -r u; do
  n=$(getent passwd "$u" 2>/dev/null || awk -F: -v u="$u" '$3 == u' /etc/passwd 2>/dev/null)
  printf '%s %s\n' "$u" "$(printf '%s' "$n" | head -n 1 | cut -d: -f1)"
done`,
    { readOnly: true, timeoutMs: 10_000 },
  );
  if (r.code !== 0) return undefined;
  const [first, ...rest] = r.stdout.trim().split('\n');
  const self = Number(first);
  if (!/^\d+$/.test(first ?? '') || !Number.isSafeInteger(self)) return undefined;
  const owners = rest
    .map((l) => /^(\d+) ?(\S*)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ uid: Number(m[1]), ...(m[2] ? { user: m[2] } : {}) }));
  return { self, owners };
}

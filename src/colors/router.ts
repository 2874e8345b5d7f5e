/**
 * The router file ship writes and nginx reads, and the per-host color state ship keeps
 * next to it (`.ship/router/state.json`). Rendering is pure; writing goes through the
 * transport: a temporary file renamed over the old one, then the router's reload.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import type { Colors } from '../config/types.js';
import type { Ctx, HostRun } from '../context.js';
import { hostEnv, run } from '../context.js';
import { ShipError } from '../errors.js';
import { quote, raw, sh, Shell } from '../shell.js';
import { writeAtomic } from '../transport/write-atomic.js';
import { type Color } from './gates.js';

export const COLORS: Color[] = ['blue', 'green'];

/** What runs where on one host, and how traffic is split. */
export interface ColorState {
  /** The color taking all traffic (or the old one while a canary walks). */
  live?: Color;
  /** Release per color; absent when that color runs nothing (as far as ship knows). */
  releases: Partial<Record<Color, string>>;
  /** Percent per color. */
  weights: Record<Color, number>;
  /** A weighted canary held by --pause: `ship switch` continues it, `ship rollback` abandons it. */
  canary?: { release: string; color: Color; step: number };
  /**
   * The `ship_route` cookie token of the rollout in progress (random, see renderRouter):
   * set from the router change before a canary's first split until all traffic is on
   * one color again.
   */
  route?: string;
  updatedAt?: string;
}

export function emptyState(): ColorState {
  return { releases: {}, weights: { blue: 0, green: 0 } };
}

/** A path of the router config: absolute as given, else under deployTo. */
export function routerPath(h: HostRun, p: string): string {
  return path.isAbsolute(p) ? p : path.join(h.root, p);
}

export function statePath(h: HostRun): string {
  return path.join(h.paths.meta, 'router', 'state.json');
}

export async function readState(h: HostRun): Promise<ColorState> {
  const buf = await h.t.readFile(statePath(h));
  if (!buf) return emptyState();
  try {
    const s = JSON.parse(buf.toString('utf8')) as ColorState;
    return { ...s, releases: { ...s.releases }, weights: Object.assign({ blue: 0, green: 0 }, s.weights) };
  } catch (e) {
    throw new ShipError(`${h.name}: ${statePath(h)} is not valid JSON: ${(e as Error).message}`, {
      host: h.name,
      reason: 'router-state',
      hint: 'ship writes it; restore it from the router file, or remove it (ship then takes blue as idle)',
    });
  }
}

/** The releases a color runs on this host (none outside two-color mode); a bad state file counts as none. */
export async function runningReleases(h: HostRun): Promise<string[]> {
  const s = await readState(h).catch(() => emptyState());
  return COLORS.map((c) => s.releases[c]).filter((x): x is string => !!x);
}

export async function writeState(h: HostRun, s: ColorState): Promise<void> {
  await writeAtomic(h.t, statePath(h), `${JSON.stringify({ ...s, updatedAt: new Date().toISOString() }, null, 2)}\n`);
}

/**
 * The nginx include for one app: an upstream per color, one `<name>_split` with the
 * weights (a color at 0 % is left out: nginx has no weight 0), and three maps that make a
 * browser stick to one color while both take traffic:
 *
 * - `$<name>_upstream`: the `ship_route` cookie → that color's upstream, else the split.
 *   Its entries exist while the rollout has a token, for both colors: from a change that
 *   only adds them, before the first split, to a change that only drops them, after the
 *   last step — so every nginx worker knows the cookie whenever one is handed out
 *   (docs/blue-green.md, "Sticky colors").
 * - `$<name>_route_cookie`: the Set-Cookie value naming the color that answered (the
 *   site adds it with add_header) while the rollout has a token, else empty — no header.
 * - `$<name>_route_secure`: `; Secure` on HTTPS requests, appended to that cookie.
 *
 * The cookie's value is `<token>-<color>`, the token a random one per rollout (never
 * guessable, so a client cannot pin itself before it was dealt a color): a browser keeps
 * the color that served its page (and so its lazy chunks' release) during one rollout, and
 * is dealt afresh by weight in the next one, never pinned by an old cookie.
 *
 * templates/nginx-bluegreen-router.sh (the root-owned helper) renders the same text from
 * the same numbers; test/unit/colors.test.ts keeps the two equal.
 */
export function renderRouter(name: string, ports: Record<Color, number>, weights: Record<Color, number>, token?: string): string {
  const addr = (c: Color) => `127.0.0.1:${ports[c]}`;
  const live = COLORS.filter((c) => weights[c] > 0);
  if (!live.length) throw new ShipError('the router would send traffic nowhere (both colors at 0 %)', { reason: 'router' });
  const lines = [
    '# Written by ship: replaced on every deploy, switch and rollback. Do not edit.',
    ...COLORS.map((c) => `# ${c}: ${addr(c)} ${weights[c]} %`),
    '',
    ...COLORS.map((c) => `upstream ${name}_${c} {\n    server ${addr(c)};\n    keepalive 16;\n}`),
    `upstream ${name}_split {\n${live.map((c) => `    server ${addr(c)} weight=${weights[c]};\n`).join('')}    keepalive 16;\n}`,
    `map $cookie_ship_route $${name}_upstream {\n    default ${name}_split;\n${token ? COLORS.map((c) => `    ${token}-${c} ${name}_${c};\n`).join('') : ''}}`,
    `map $scheme $${name}_route_secure {\n    default "";\n    https "; Secure";\n}`,
    `map $upstream_addr $${name}_route_cookie {\n    default "";\n${token ? live.map((c) => `    ~${escapeRe(addr(c))}$ "ship_route=${token}-${c}; Path=/; HttpOnly; SameSite=Lax\${${name}_route_secure}";\n`).join('') : ''}}`,
    '',
  ];
  return lines.join('\n');
}

/** A new rollout's cookie token: 16 random bytes, hex. */
export function newRouteToken(): string {
  return randomBytes(16).toString('hex');
}

function escapeRe(s: string): string {
  return s.replace(/[.]/g, '\\.');
}

/** A host's ports: its own, else the stage's. */
export function portsOf(h: HostRun, colors: Pick<Colors, 'ports'>): Record<Color, number> {
  return h.cfg.ports ?? colors.ports;
}

/**
 * Moves traffic on one host. With `router.command` (the root-owned helper): runs it with
 * the router name, the ports, the weights and the rollout's cookie token — numbers and
 * words, quoted — and it renders, checks and reloads (returning once nginx's old workers
 * stopped taking connections). With `router.file`: writes the file atomically, then runs
 * `router.reload`. See docs/blue-green.md, "Two ways to change the router".
 */
export async function applyRouter(ctx: Ctx, h: HostRun, colors: Colors, s: ColorState): Promise<void> {
  const ports = portsOf(h, colors);
  const r = colors.router;
  const text = renderRouter(r.name, ports, s.weights, s.route); // refuses "both at 0 %" before anything changes
  if (r.command !== undefined) {
    await writeState(h, s);
    const args = [r.name, ports.blue, ports.green, s.weights.blue, s.weights.green, s.route ?? '-'];
    await run(h, sh`${raw(r.command)} ${args}`, `router change (${r.command})`, { cwd: h.root, env: hostEnv(ctx, h) });
    routed(ctx, h, s);
  } else {
    await writeAtomic(h.t, routerPath(h, r.file), text);
    await writeState(h, s);
    const before = await ownNginxWorkers(h);
    await run(h, raw(r.reload), `router reload (${r.reload})`, { cwd: h.root, env: hostEnv(ctx, h) });
    routed(ctx, h, s);
    await waitForOldWorkers(ctx, h, before);
  }
}

function routed(ctx: Ctx, h: HostRun, s: ColorState): void {
  ctx.events.emit({ type: 'route', host: h.name, weights: { ...s.weights }, releases: { ...s.releases } });
}

/** The longest ship waits, in the file mode, for nginx's old workers to stop taking connections. */
export const OLD_WORKERS_TIMEOUT_MS = 20_000;
/** An nginx master that shows no sign of a reload this long after it is another nginx of the same user. */
const OTHER_MASTER_MS = 3000;

/**
 * The nginx workers running as the deploy user that take connections (not "shutting
 * down"), as pid → master pid: in the file mode nginx runs as that user, and after
 * `router.reload` ship waits until the ones from before are gone, as the router helper does
 * for a root nginx (docs/blue-green.md, "Sticky colors").
 */
async function ownNginxWorkers(h: HostRun): Promise<Map<string, string>> {
  const r = await h.t.exec(
    sh`for d in /proc/[0-9]*; do [ -O "$d" ] || continue; c=$(tr '\\0' ' ' < "$d"/cmdline 2>/dev/null) || continue; case $c in *'shutting down'*) ;; 'nginx: worker process'*) echo "\${d#/proc/} $(sed 's/^.*) //' "$d"/stat | cut -d' ' -f2)" ;; esac; done`,
    { readOnly: true, timeoutMs: 10_000 },
  );
  const out = new Map<string, string>();
  if (r.code !== 0) return out;
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line.trim());
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

async function waitForOldWorkers(ctx: Ctx, h: HostRun, before: Map<string, string>): Promise<void> {
  if (!before.size) return;
  const t0 = Date.now();
  const masters = new Set(before.values());
  for (;;) {
    const now = await ownNginxWorkers(h);
    const left: string[] = [];
    for (const m of masters) {
      const old = [...before].filter(([, pm]) => pm === m).map(([p]) => p);
      const alive = old.filter((p) => now.get(p) === m);
      const fresh = [...now].some(([p, pm]) => pm === m && !before.has(p));
      // Another nginx of this user (its workers untouched, none new): not the one reloaded.
      if (alive.length === old.length && !fresh && Date.now() - t0 > OTHER_MASTER_MS) masters.delete(m);
      else left.push(...alive);
    }
    if (!left.length || ctx.interrupted) return;
    if (Date.now() - t0 >= OLD_WORKERS_TIMEOUT_MS) {
      ctx.events.warn(`nginx worker(s) ${left.join(', ')} still take connections ${OLD_WORKERS_TIMEOUT_MS / 1000} s after the router reload`, h.name);
      return;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * A `processes.start`/`stop` command with its placeholders filled in: `{release}`,
 * `{releasePath}`, `{port}`, `{color}` become quoted words, as values in `sh` do.
 */
export function fillCommand(template: string, vars: { release: string; releasePath: string; port: number; color: Color }): Shell {
  const text = template.replace(/\{(release|releasePath|port|color)\}/g, (_, k: keyof typeof vars) => quote(vars[k]));
  return new Shell(text);
}

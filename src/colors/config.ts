import { UsageError, type ConfigProblem } from '../errors.js';
import type { RunOptions } from '../context.js';
import { appSlug } from '../commands/init.js';
import { toMs, type StageInput } from '../config/schema.js';
import type { Colors, Gates, HostConfig, Stage } from '../config/types.js';

/** The canary gates when the config names none (see docs/blue-green.md). */
export const DEFAULT_GATES: Gates = { errorRate: 0.5, p95: 1.5, minRequests: 50 };

/**
 * Two colors per host: on when the stage has `processes`. Needs `ports` and a health
 * check (the new color is checked on its own port before it gets any traffic).
 */
export function resolveColors(merged: StageInput, app: string, hosts: HostConfig[], problems: ConfigProblem[]): Colors | undefined {
  const p = merged.processes;
  const tokenInUrl = hosts.filter((h) => h.healthcheck?.url.includes('{token}'));
  if (tokenInUrl.length) {
    problems.push({
      path: 'healthcheck.url',
      message: `{token} in the health-check URL (on ${tokenInUrl.map((h) => h.name).join(', ')})`,
      hint: 'ship never sends the health token: the app shows it in its answer, and contains may name it (see docs/blue-green.md, Health check)',
    });
  }
  if (!p) {
    const tokenInContains = hosts.filter((h) => h.healthcheck?.contains?.includes('{token}'));
    if (tokenInContains.length) {
      problems.push({
        path: 'healthcheck.contains',
        message: `{token} without two colors (on ${tokenInContains.map((h) => h.name).join(', ')})`,
        hint: 'the health token (SHIP_HEALTH_TOKEN) is given only to processes.start in two-color mode',
      });
    }
    if (merged.ports || hosts.some((h) => h.ports)) problems.push({ path: 'ports', message: 'ports without processes', hint: 'two colors need processes: { start, stop } as well (see docs/blue-green.md)' });
    if (merged.router) problems.push({ path: 'router', message: 'router without processes', hint: 'the router file is written only in two-color mode (processes + ports)' });
    return undefined;
  }
  if (!merged.ports && hosts.some((h) => !h.ports)) {
    problems.push({ path: 'ports', message: 'processes need ports: { blue, green }', hint: 'e.g. ports: { blue: 3001, green: 3002 }' });
    return undefined;
  }
  const noCheck = hosts.filter((h) => !h.healthcheck);
  if (noCheck.length) {
    problems.push({
      path: 'healthcheck',
      message: `two colors need a health check (missing on ${noCheck.map((h) => h.name).join(', ')})`,
      hint: "e.g. healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: '{release} {token}' }",
    });
  }
  const r = merged.router ?? {};
  const fileMode = r.file !== undefined || r.reload !== undefined;
  if (fileMode && r.command !== undefined) {
    problems.push({ path: 'router.command', message: 'router.command (the root-owned helper) and router.file/router.reload (nginx running as the deploy user) exclude each other', hint: 'see docs/blue-green.md, "Two ways to change the router"' });
  }
  return {
    start: p.start,
    stop: p.stop,
    keepOld: p.keepOld ?? 'next-deploy',
    checkListener: p.checkListener ?? true,
    ports: merged.ports ?? hosts[0].ports!,
    router: fileMode
      ? {
          file: r.file ?? '.ship/router/upstream.conf',
          reload: r.reload ?? 'nginx -s reload',
          accessLog: r.accessLog ?? '.ship/router/access.log',
          name: r.name ?? routerName(app),
        }
      : {
          command: r.command ?? DEFAULT_ROUTER_COMMAND,
          accessLog: r.accessLog ?? `/var/log/nginx/${appSlug(app)}-colors.log`,
          name: r.name ?? routerName(app),
        },
  };
}

/** Where docs/blue-green.md has the admin install the router helper, run through sudo. */
export const DEFAULT_ROUTER_COMMAND = 'sudo -n /usr/local/sbin/ship-nginx-router';

/** nginx names (upstreams, variables) for an app: `my-app.web` → `my_app_web`. */
export function routerName(app: string): string {
  return appSlug(app).replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64);
}

/** `strategy.steps`, `stepTime`, `gates`: only with two colors and the canary strategy. */
export function resolveWeighted(merged: StageInput, colors: boolean, problems: ConfigProblem[]): Partial<Stage['strategy']> {
  const s = merged.strategy;
  if (!s || (s.steps === undefined && s.stepTime === undefined && s.gates === undefined)) return {};
  if (s.steps === undefined) {
    problems.push({ path: 'strategy.steps', message: 'stepTime and gates belong to a weighted canary, which needs steps', hint: 'e.g. steps: [1, 10, 50, 100]' });
    return {};
  }
  if (!colors) problems.push({ path: 'strategy.steps', message: 'a weighted canary needs two colors per host', hint: 'add processes: { start, stop } and ports: { blue, green } (see docs/blue-green.md)' });
  if ((s.type ?? 'canary') !== 'canary') problems.push({ path: 'strategy.type', message: `steps make a weighted canary: type must be canary, not ${s.type}` });
  if (s.steps.some((x, i) => i > 0 && x <= s.steps![i - 1])) problems.push({ path: 'strategy.steps', message: 'steps must rise (e.g. [1, 10, 50, 100])' });
  if (s.steps.at(-1) !== 100) problems.push({ path: 'strategy.steps', message: 'the last step must be 100 (all traffic on the new release)' });
  return {
    type: 'canary',
    steps: s.steps,
    stepTime: toMs(s.stepTime ?? '60s'),
    gates: { ...DEFAULT_GATES, ...s.gates },
  };
}

/**
 * The flow of a command: the two-color one when the stage has `processes`. `--pause`
 * there holds a weighted canary at a step, so it needs `strategy.steps`.
 */
export function colorFlow<T>(stage: Stage, o: RunOptions, plain: T, colored: T): T {
  if (!stage.colors) return plain;
  if (o.pause && !(stage.strategy.type === 'canary' && stage.strategy.steps?.length)) {
    throw new UsageError('--pause with two colors holds a weighted canary at a step: it needs strategy.steps (e.g. [1, 10, 50, 100])');
  }
  return colored;
}

import path from 'node:path/posix';
import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { forEachHost, type Ctx, type HostRun } from '../context.js';
import { scanBuild } from '../build.js';
import { ShipError } from '../errors.js';
import { diskNeedKb, freeSpace, missingSharedFiles } from '../host-state.js';
import { forwardingForbidden } from '../health.js';
import { redactUrl } from '../redact.js';
import { clearable, describeBeat, describeLock, readLock } from '../lock.js';
import { sh } from '../shell.js';
import { portsOf, readState, routerPath } from '../colors/router.js';
import { connect } from '../steps/connect.js';
import type { Step } from '../steps/types.js';

export interface CheckRow {
  host: string;
  check: string;
  ok: boolean;
  detail: string;
  /** Passes, but something to fix: printed as `warn`. */
  warn?: boolean;
}

/**
 * `ship check <stage>`: everything a deploy needs, per host, without writing anything:
 * reach, auth and host key (connect), deploy dir and permissions, disk, tools, shared
 * files, atomic rename, lock, health-check route.
 */
export async function check(o: CommandOptions, print: Printer): Promise<CommandResult> {
  const rows: CheckRow[] = [];
  const step: Step = {
    name: 'check',
    description: 'preflight checks',
    async run(ctx, hosts) {
      // The size of the build as it stands (nothing is built here) sizes the disk check.
      ctx.build = await scanBuild(ctx.stage.build.dir, ctx.stage.build).catch(() => undefined);
      await forEachHost(ctx, 'check', hosts, async (h) => {
        const add = (check: string, ok: boolean, detail: string, warn?: boolean) => rows.push({ host: h.name, check, ok, detail, ...(warn ? { warn } : {}) });
        add('connect', true, h.t.kind === 'ssh' ? 'reached, authenticated, host key verified' : 'local');
        await checkHost(ctx, h, add);
      });
      rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
      const width = Math.max(...rows.map((r) => r.check.length));
      print(rows, rows.map((r) => `${!r.ok ? 'FAIL' : r.warn ? 'warn' : 'ok  '} ${r.host}  ${r.check.padEnd(width)}  ${r.detail}`).join('\n'));
      const bad = rows.filter((r) => !r.ok);
      if (bad.length) {
        throw new ShipError(`${bad.length} check${bad.length > 1 ? 's' : ''} failed: ${bad.map((r) => `${r.host} ${r.check}`).join(', ')}`, { reason: 'check' });
      }
    },
  };
  return runCommand('check', o, [connect, step]);
}

type Add = (check: string, ok: boolean, detail: string, warn?: boolean) => void;

async function checkHost(ctx: Ctx, h: HostRun, add: Add): Promise<void> {
  // The deploy dir, or the nearest existing parent it would be created in.
  let dir = h.root;
  while (dir !== '/' && !(await h.t.stat(dir))) dir = path.dirname(dir);
  const writable = (await h.t.exec(sh`test -w ${dir} && test -x ${dir}`)).code === 0;
  add('deploy dir', writable, dir === h.root ? `${h.root} is ${writable ? '' : 'not '}writable` : `${h.root} will be created in ${dir} (${writable ? '' : 'not '}writable)`);

  const free = await freeSpace(h, dir);
  if ('kb' in free) {
    const bytes = ctx.build?.bytes ?? 0;
    add('disk', free.kb > diskNeedKb(bytes), `${Math.round(free.kb / 1024)} MiB free${bytes ? `, a release needs about ${(bytes / 1024 / 1024).toFixed(1)} MiB` : ''}`);
  } else add('disk', false, `could not read free space: ${free.error}`);

  const tools = await h.t.exec(
    sh`for t in tar cp mv rm mkdir xargs; do command -v $t >/dev/null 2>&1 || echo "missing $t"; done; tar --version 2>/dev/null | head -n 1 | grep -q GNU || echo 'tar is not GNU tar'; cp --help 2>&1 | grep -q -e --parents || echo 'cp lacks --parents (GNU coreutils)'`,
  );
  const missing = tools.stdout.trim();
  add('tools', !missing, missing ? missing.split('\n').join('; ') : 'GNU tar, cp, mv, xargs');

  const absent = new Set(await missingSharedFiles(h, ctx.stage.shared.files));
  for (const f of ctx.stage.shared.files) {
    add(`shared ${f}`, !absent.has(f), absent.has(f) ? `missing: ${path.join(h.paths.shared, f)} (upload it: ship setup ${ctx.stage.name} --upload ${f}=<local file>)` : 'present');
  }

  const method = await h.t.renameMethod();
  add('atomic rename', method !== 'none', method === 'none' ? 'neither posix-rename@openssh.com nor `mv -T`: ship cannot switch atomically' : method);

  const lock = await readLock(h, ctx.stage.lock.staleAfterMs);
  add('lock', !lock, lock ? `held by ${describeLock(lock)}, ${describeBeat(lock)}${clearable(lock) ? ` (clear it: ship unlock ${ctx.stage.name})` : ''}` : 'free');

  if (isPhpFpmReload(ctx.stage.reload)) await checkPhpFpmReload(ctx.stage.reload!, h, add);
  if (ctx.stage.colors) await checkRouter(ctx, h, add);

  const hc = h.cfg.healthcheck;
  if (hc) {
    // Two colors: the check's `{port}` is the live color's (blue before the first deploy).
    const colors = ctx.stage.colors;
    const live = colors ? ((await readState(h).catch(() => undefined))?.live ?? 'blue') : undefined;
    const url = new URL(colors && live ? hc.url.replaceAll('{port}', String(portsOf(h, colors)[live])) : hc.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    try {
      const s = await h.t.forward(port, url.hostname);
      s.destroy();
      add('health route', true, `${redactUrl(hc.url)} reachable through the SSH connection (direct-tcpip)`);
    } catch (e) {
      const msg = (e as Error).message;
      if (forwardingForbidden(e)) {
        const curl = await h.t.exec(sh`command -v curl || command -v wget`);
        add('health route', curl.code === 0, curl.code === 0 ? `TCP forwarding is off: will use ${curl.stdout.trim()} on the host` : 'TCP forwarding is off and neither curl nor wget is installed');
      } else add('health route', !h.currentId, `${redactUrl(hc.url)}: ${msg}${h.currentId ? '' : ' (nothing deployed yet)'}`);
    }
  }
}

/**
 * Whether a stage's `reload` reloads php-fpm: names php-fpm (`php8.2-fpm`, `php-fpm`, a
 * path with php-fpm in it) and reloads it (`reload`, or SIGUSR2 as `kill -USR2` sends).
 */
export function isPhpFpmReload(reload: string | undefined): boolean {
  return !!reload && /php[\w.]*-?fpm/i.test(reload) && /\breload\b|-(?:s\s*)?USR2\b|-12\b/i.test(reload);
}

/** process_control_timeout in seconds from `php-fpm -tt` output (its NOTICE lines); undefined when absent. */
export function processControlTimeout(tt: string): number | undefined {
  const m = /process_control_timeout\s*=\s*(\d+)\s*([smhd]?)\b/.exec(tt);
  if (!m) return undefined;
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]];
}

/** Masters of php-fpm on the host: pid and main config, from their process titles (`php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)`). */
export function phpFpmMasters(ps: string): Array<{ pid: number; conf: string }> {
  const out: Array<{ pid: number; conf: string }> = [];
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+php-fpm[\w.]*: master process \((.+)\)\s*$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), conf: m[2] });
  }
  return out;
}

/**
 * A php-fpm reload stops the workers; with process_control_timeout 0 (Debian's default)
 * the ones still serving a request are killed, and those requests fail (docs/zero-downtime.md,
 * "PHP and php-fpm"). Reads the setting as php-fpm itself does (`php-fpm -tt`) for the
 * master(s) the reload names: by pid file (a path the reload reads), by version
 * (`php8.2-fpm` → configs under /etc/php/8.2/), or every running one; with none running,
 * the default config of the php-fpm binary. A warning, not a failure: the deploy works.
 */
async function checkPhpFpmReload(reload: string, h: HostRun, add: Add): Promise<void> {
  const name = 'php-fpm reload';
  const version = /php(\d+\.\d+)-fpm/i.exec(reload)?.[1] ?? /php-fpm(\d+\.\d+)/i.exec(reload)?.[1];
  const bins = [...(version ? [`php-fpm${version}`] : []), 'php-fpm', ...['8.4', '8.3', '8.2', '8.1', '8.0', '7.4'].map((v) => `php-fpm${v}`)];
  const found = await h.t.exec(sh`for b in ${bins}; do for d in /usr/sbin /usr/local/sbin; do if [ -x "$d/$b" ]; then echo "$d/$b"; exit 0; fi; done; if command -v "$b" 2>/dev/null; then exit 0; fi; done; exit 1`);
  const bin = found.stdout.trim().split('\n')[0];
  if (found.code !== 0 || !bin) {
    add(name, true, `the stage's reload reloads php-fpm, but no php-fpm binary was found to read its process_control_timeout`, true);
    return;
  }
  let masters = phpFpmMasters((await h.t.exec(sh`ps -eo pid=,args=`)).stdout);
  const pidFiles = [...reload.matchAll(/(\/[\w./-]*\.pid)\b/g)].map((m) => m[1]);
  if (masters.length && pidFiles.length) {
    const pids = new Set<number>();
    for (const f of pidFiles) {
      const r = await h.t.exec(sh`cat ${f}`);
      if (r.code === 0 && /^\d+\s*$/.test(r.stdout)) pids.add(Number(r.stdout));
    }
    const named = masters.filter((m) => pids.has(m.pid));
    if (named.length) masters = named;
  } else if (masters.length && version) {
    const ofVersion = masters.filter((m) => m.conf.includes(`/${version}/`));
    if (ofVersion.length) masters = ofVersion;
  }
  const confs: Array<string | undefined> = masters.length ? [...new Set(masters.map((m) => m.conf))] : [undefined];
  for (const conf of confs) {
    const tt = await h.t.exec(conf ? sh`${bin} -tt -y ${conf} 2>&1` : sh`${bin} -tt 2>&1`);
    const where = conf ?? `${bin}'s default config (php-fpm is not running)`;
    const secs = processControlTimeout(tt.stdout);
    if (secs === undefined) {
      const why = tt.stdout.split('\n').find((l) => /ERROR|denied/i.test(l))?.trim() ?? `exit ${tt.code}`;
      add(name, true, `could not read process_control_timeout of ${where}: ${why}`, true);
    } else if (secs === 0) {
      add(
        name,
        true,
        `process_control_timeout is 0 in ${where}: the stage's reload kills workers that are still serving, and their requests fail. Set it (e.g. process_control_timeout = 10s under [global]; templates/php-fpm/pool.conf does), or leave reload out`,
        true,
      );
    } else add(name, true, `graceful: process_control_timeout = ${secs}s in ${where}`);
  }
}

/**
 * Two colors: nothing a root nginx master reads may be writable by the deploy user
 * (docs/blue-green.md, "The router helper"). With the helper: the helper, its directory,
 * its CONF_DIR, the include and the access log (and their directories). In the file mode:
 * the router file is the deploy user's by design, so an nginx master running as root fails.
 */
async function checkRouter(ctx: Ctx, h: HostRun, add: (check: string, ok: boolean, detail: string) => void): Promise<void> {
  const r = ctx.stage.colors!.router;
  const log = routerPath(h, r.accessLog);
  const writable = async (paths: string[]) => {
    const out = await h.t.exec(sh`for p in ${paths}; do if [ -e "$p" ] || [ -L "$p" ]; then test -w "$p" && echo "$p"; fi; done; true`, { readOnly: true });
    return out.stdout.split('\n').filter(Boolean);
  };
  if (r.command !== undefined) {
    const helper = r.command.split(/\s+/).find((w) => w.startsWith('/'));
    if (!helper) {
      add('router helper', false, `cannot tell the helper's path from router.command (${r.command}): name it by its absolute path`);
      return;
    }
    const text = (await h.t.readFile(helper))?.toString('utf8');
    if (text === undefined) {
      add('router helper', false, `${helper} is missing: install it as root (docs/blue-green.md, "The router helper")`);
      return;
    }
    const confDir = /^CONF_DIR=(\/\S+)\s*$/m.exec(text)?.[1];
    const paths = [helper, path.dirname(helper), log, path.dirname(log)];
    if (confDir) paths.push(confDir, path.join(confDir, `${r.name}.conf`));
    const bad = await writable(paths);
    add(
      'router files',
      bad.length === 0,
      bad.length ? `writable by the deploy user, read by root's nginx or run as root: ${bad.join(', ')} (make them root's: docs/blue-green.md, "The router helper")` : `${helper}${confDir ? `, ${confDir}` : ''} and ${log} are not writable by the deploy user`,
    );
  } else {
    const file = routerPath(h, r.file);
    const roots = await h.t.exec(sh`for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < "$d"/cmdline 2>/dev/null) || continue; case $c in 'nginx: master process'*) [ "$(stat -c %u "$d" 2>/dev/null)" = 0 ] && echo "\${d#/proc/}" ;; esac; done; true`, { readOnly: true });
    const rootMasters = roots.stdout.split('\n').filter(Boolean);
    const bad = rootMasters.length ? await writable([file, path.dirname(file), log, path.dirname(log)]) : [];
    add(
      'router files',
      bad.length === 0,
      bad.length
        ? `an nginx master runs as root (pid ${rootMasters.join(', ')}) and the router file mode has the deploy user write ${bad.join(', ')}: use the router helper (router.command; docs/blue-green.md, "Two ways to change the router")`
        : 'file mode: no nginx master runs as root here',
    );
  }
  const readable = (await h.t.exec(sh`test ! -e ${log} || test -r ${log}`, { readOnly: true })).code === 0;
  add('router log', readable, readable ? `${log} is readable by the deploy user (or not written yet)` : `${log} is not readable by the deploy user: the canary cannot judge (group adm or an ACL)`);
}

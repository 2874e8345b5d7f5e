import path from 'node:path/posix';
import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { forEachHost, type Ctx, type HostRun } from '../context.js';
import { scanBuild } from '../build.js';
import { ShipError } from '../errors.js';
import { diskNeedKb, freeSpace, missingSharedFiles } from '../host-state.js';
import { forwardingForbidden } from '../health.js';
import { redactUrl } from '../redact.js';
import { describeBeat, describeLock, readLock } from '../lock.js';
import { sh } from '../shell.js';
import { portsOf, readState, routerPath } from '../colors/router.js';
import { connect } from '../steps/connect.js';
import type { Step } from '../steps/types.js';

export interface CheckRow {
  host: string;
  check: string;
  ok: boolean;
  detail: string;
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
        const add = (check: string, ok: boolean, detail: string) => rows.push({ host: h.name, check, ok, detail });
        add('connect', true, h.t.kind === 'ssh' ? 'reached, authenticated, host key verified' : 'local');
        await checkHost(ctx, h, add);
      });
      rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
      const width = Math.max(...rows.map((r) => r.check.length));
      print(rows, rows.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${r.host}  ${r.check.padEnd(width)}  ${r.detail}`).join('\n'));
      const bad = rows.filter((r) => !r.ok);
      if (bad.length) {
        throw new ShipError(`${bad.length} check${bad.length > 1 ? 's' : ''} failed: ${bad.map((r) => `${r.host} ${r.check}`).join(', ')}`, { reason: 'check' });
      }
    },
  };
  return runCommand('check', o, [connect, step]);
}

async function checkHost(ctx: Ctx, h: HostRun, add: (check: string, ok: boolean, detail: string) => void): Promise<void> {
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
  add('lock', !lock, lock ? `held by ${describeLock(lock)}, ${describeBeat(lock)}${lock.stale ? ` (clear it: ship unlock ${ctx.stage.name})` : ''}` : 'free');

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

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
  add('lock', !lock, lock ? `held by ${describeLock(lock)}, ${describeBeat(lock)}${clearable(lock) ? ` (clear it: ship unlock ${ctx.stage.name})` : ''}` : 'free');

  const hc = h.cfg.healthcheck;
  if (hc) {
    const url = new URL(hc.url);
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

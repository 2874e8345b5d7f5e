import type { Ctx, HostRun } from './context.js';
import { forEachHost, hostEnv } from './context.js';
import { CommandError, UsageError } from './errors.js';
import { readOnlyHint } from './immutable.js';
import { raw } from './shell.js';
import { runSh } from './transport/local.js';
import { wrapCommand } from './transport/command.js';

/** Hooks that run before any host is connected: only `local:` commands can. */
export const BEFORE_CONNECT_HOOKS = ['before:build', 'after:build', 'before:connect'];

export interface HookOptions {
  /** false before the hosts are connected (build, before:connect): host commands cannot run. */
  hostsReady?: boolean;
}

/**
 * Runs the commands of one hook (`before:upload`, `drain`, `failed`, …), in order.
 * `local:` commands run once per call on the deployer, in the config's directory, with
 * the SHIP_* values of the first host (SHIP_HOST empty, SHIP_HOSTS listing the hosts of
 * the step or batch). The rest run on each host of the step, in the release directory
 * (deployTo while the release is not published yet), with the SHIP_* environment.
 * A non-zero exit fails the hook (CommandError, exit 1).
 */
export async function runHook(ctx: Ctx, hook: string, hosts: HostRun[], extraEnv: Record<string, string> = {}, opts: HookOptions = {}): Promise<void> {
  const commands = ctx.stage.hooks[hook];
  if (!commands?.length) return;
  for (const command of commands) {
    if (command.startsWith('local:')) {
      const cmd = command.slice('local:'.length).trim();
      ctx.events.emit({ type: 'hook', hook, command: cmd });
      const first = hosts[0];
      // The deployer's own environment is inherited; these are exported on top of it.
      const env = {
        ...ctx.stage.env,
        ...(first
          ? hostEnv(ctx, first)
          : { SHIP_STAGE: ctx.stage.name, SHIP_RELEASE: ctx.release ?? '', SHIP_RELEASE_PATH: '', SHIP_DEPLOY_TO: '', SHIP_PREVIOUS_RELEASE: '' }),
        SHIP_HOST: '',
        SHIP_HOSTS: hosts.map((h) => h.name).join(','),
        ...extraEnv,
      } as Record<string, string>;
      ctx.events.secrets.addEnv(env);
      const r = await runSh(wrapCommand(raw(cmd), { cwd: ctx.stage.configDir, env: pick(env) }), cmd);
      if (r.code !== 0) throw new CommandError('local', `hook ${hook} (${cmd})`, r);
    } else {
      if (opts.hostsReady === false) {
        throw new UsageError(`hook ${hook}: '${command}' would run on the hosts, which are not connected yet at that point`, {
          hint: `run it on the deployer (prefix it with local:) or attach it to a later step (after:connect)`,
        });
      }
      await forEachHost(ctx, `hook ${hook}`, hosts, async (h) => {
        ctx.events.emit({ type: 'hook', hook, command, host: h.name });
        const cwd = await hookDir(h);
        const r = await h.t.exec(raw(command), {
          cwd,
          env: { ...hostEnv(ctx, h), ...extraEnv },
          envFile: ctx.stage.envFile && cwd === h.cwd && cwd !== h.root ? ctx.stage.envFile : undefined,
        });
        if (r.code !== 0) throw new CommandError(h.name, `hook ${hook} (${command})`, r, readOnlyHint(r.stderr));
      });
    }
  }
}

/** The release directory when it exists, else deployTo, else (first deploy, not created yet) the home directory. */
async function hookDir(h: HostRun): Promise<string | undefined> {
  for (const d of [h.cwd, h.root]) {
    const type = (await h.t.stat(d).catch(() => null))?.type;
    if (type === 'dir' || type === 'symlink') return d;
  }
  return undefined;
}

/** Only names a POSIX shell can export. */
function pick(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && typeof v === 'string') out[k] = v;
  return out;
}

import type { Ctx, HostRun } from './context.js';
import { forEachHost, hostEnv, runUserCommand } from './context.js';
import { CommandError } from './errors.js';
import { raw } from './shell.js';
import { runSh } from './transport/local.js';
import { wrapCommand } from './transport/command.js';

/**
 * Runs the commands of one hook (`before:upload`, `drain`, `failed`, …). `local:`
 * commands run once on the deployer, in the config's directory; the rest run on each
 * host of the step in its release directory, with the SHIP_* environment.
 */
export async function runHook(ctx: Ctx, hook: string, hosts: HostRun[], extraEnv: Record<string, string> = {}): Promise<void> {
  const commands = ctx.stage.hooks[hook];
  if (!commands?.length || ctx.opts.dryRun) return;
  for (const command of commands) {
    if (command.startsWith('local:')) {
      const cmd = command.slice('local:'.length).trim();
      ctx.events.emit({ type: 'hook', hook, command: cmd });
      const first = hosts[0];
      const env = {
        ...process.env,
        ...ctx.stage.env,
        ...(first ? hostEnv(ctx, first) : {}),
        SHIP_HOST: '',
        ...extraEnv,
      } as Record<string, string>;
      const r = await runSh(wrapCommand(raw(cmd), { cwd: ctx.stage.configDir, env: pick(env) }), cmd);
      if (r.code !== 0) throw new CommandError('local', `hook ${hook} (${cmd})`, r);
    } else {
      await forEachHost(ctx, `hook ${hook}`, hosts, async (h) => {
        ctx.events.emit({ type: 'hook', hook, command, host: h.name });
        await runUserCommand(ctx, h, command, `hook ${hook} (${command})`, h.cwd, extraEnv);
      });
    }
  }
}

/** Only names a POSIX shell can export. */
function pick(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && typeof v === 'string') out[k] = v;
  return out;
}

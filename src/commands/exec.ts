import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { forEachHost, hostEnv } from '../context.js';
import { ShipError, UsageError } from '../errors.js';
import { raw } from '../shell.js';
import { connect } from '../steps/connect.js';
import type { Step } from '../steps/types.js';

/**
 * `ship exec <stage> -- <words…>`: the words joined with spaces (as `ssh host cmd…` does),
 * run by /bin/sh in `current` on every host with the SHIP_* variables, env and envFile.
 * Output goes to stdout, each line prefixed with its host when there are several.
 */
export async function execCommand(o: CommandOptions, words: string[], print: Printer): Promise<CommandResult> {
  const command = words.join(' ').trim();
  if (!command) throw new UsageError('ship exec needs a command: ship exec <stage> -- <command…>');
  const results: { host: string; code: number | null; stdout: string; stderr: string }[] = [];
  const step: Step = {
    name: 'exec',
    description: 'run a command in current on every host',
    async run(ctx, hosts) {
      await forEachHost(ctx, 'exec', hosts, async (h) => {
        if (!h.currentId) throw new ShipError(`${h.name}: nothing deployed yet (no current release)`, { host: h.name });
        h.target = h.currentId;
        const r = await h.t.exec(raw(command), { cwd: h.paths.current, env: hostEnv(ctx, h), envFile: ctx.stage.envFile });
        results.push({ host: h.name, code: r.code, stdout: r.stdout, stderr: r.stderr });
      });
      results.sort((a, b) => (a.host < b.host ? -1 : 1));
      const many = hosts.length > 1;
      const prefix = (host: string, text: string) =>
        many ? text.replace(/\n$/, '').split('\n').map((l) => `[${host}] ${l}`).join('\n') : text.replace(/\n$/, '');
      print(
        results,
        results.map((r) => [r.stdout && prefix(r.host, r.stdout), r.stderr && prefix(r.host, r.stderr)].filter(Boolean).join('\n')).filter(Boolean).join('\n'),
      );
      const failed = results.filter((r) => r.code !== 0);
      if (failed.length) {
        throw new ShipError(`command exited non-zero on ${failed.map((r) => `${r.host} (${r.code ?? 'signal'})`).join(', ')}`, { reason: 'command' });
      }
    },
  };
  return runCommand('exec', o, [connect, step]);
}

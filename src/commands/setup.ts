import path from 'node:path';
import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import { UsageError } from '../errors.js';
import { setupFlow } from '../flows.js';

/**
 * `ship setup <stage>`: prepares every host (deployTo, releases/, shared/ and its dirs,
 * .ship/) and uploads shared files: `shared.upload` from the config, plus
 * `--upload name=local` / `--upload-secret name=local` (local paths relative to the
 * working directory). Locks like every writing command; `--dry-run` writes nothing.
 */
export function setupCommand(o: CommandOptions, upload: string[] = [], uploadSecret: string[] = []): Promise<CommandResult> {
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const parse = (spec: string, secret: boolean | undefined) => {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) {
      throw new UsageError(`--upload${secret ? '-secret' : ''} ${spec}: expected <name in shared/>=<local file>`, { hint: 'e.g. --upload .env=./.env.production' });
    }
    return { name: spec.slice(0, eq), from: path.resolve(cwd, spec.slice(eq + 1)), secret };
  };
  const uploads = [...upload.map((s) => parse(s, undefined)), ...uploadSecret.map((s) => parse(s, true))];
  return runCommand('setup', { ...o, uploads }, setupFlow);
}

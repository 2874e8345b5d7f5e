import { exportEnv, quote, type Shell } from '../shell.js';
import type { ExecOptions } from './types.js';

/**
 * The full script a transport hands to /bin/sh: cd, env, envFile, then the command.
 * Both transports use this, so a command means the same thing locally and over SSH.
 */
export function wrapCommand(command: Shell, opts: ExecOptions = {}): string {
  const parts: string[] = [];
  if (opts.cwd) parts.push(`cd ${quote(opts.cwd)} || exit 125`);
  if (opts.env && Object.keys(opts.env).length) parts.push(exportEnv(opts.env).text);
  if (opts.envFile) {
    // `.` searches PATH for a bare name, so a relative file gets a ./ prefix.
    const f = (opts.envFile.startsWith('/') ? '' : './') + quote(opts.envFile);
    parts.push(`if [ -f ${f} ]; then set -a; . ${f} || exit 125; set +a; fi`);
  }
  parts.push(command.text);
  return parts.join('\n');
}

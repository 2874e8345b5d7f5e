import path from 'node:path/posix';
import { parseDotenv } from '../dotenv.js';
import { exportEnv, quote, type Shell } from '../shell.js';
import type { ExecOptions } from './types.js';

/**
 * The full script a transport runs: cd, env, then the command. Both transports use this,
 * so a command means the same thing locally and over SSH.
 *
 * The script never appears on a command line: the process started is always
 * `/bin/sh -c BOOTSTRAP`, a fixed text, and the script (with the `export K='v'` lines
 * holding env and envFile values) is sent on its standard input, framed by a line count
 * (see `framed`). `read` takes its input one byte at a time, so whatever follows the
 * script on stdin (a tar archive, migration input) reaches the command untouched.
 */
export function wrapCommand(command: Shell, opts: ExecOptions = {}): string {
  const parts: string[] = [];
  if (opts.cwd) parts.push(`cd ${quote(opts.cwd)} || exit 125`);
  if (opts.env && Object.keys(opts.env).length) parts.push(exportEnv(opts.env).text);
  parts.push(command.text);
  return parts.join('\n');
}

/** Reads `<n>\n` then n lines (from stdin, or the redirection `from`) into __ship_s. */
const readScript = (from = '') =>
  `IFS= read -r __ship_n${from} || exit 125; __ship_s=; ` +
  `while [ "$__ship_n" -gt 0 ]; do IFS= read -r __ship_l${from} || exit 125; __ship_s="$__ship_s$__ship_l\n"; __ship_n=$((__ship_n - 1)); done; ` +
  'unset __ship_n __ship_l; ';

/** What `/bin/sh -c` is given: reads `<n>\n` then n lines from stdin, and evals them. */
export const BOOTSTRAP = readScript() + 'eval "unset __ship_s; $__ship_s"';

/**
 * The same, reading the script from file descriptor 3 (closed before the script runs), so
 * that stdin stays the caller's: `ship ssh` on a `local` host, whose stdin is the terminal.
 */
export const BOOTSTRAP_FD3 = readScript(' <&3') + 'exec 3<&-; eval "unset __ship_s; $__ship_s"';

/** The stdin preamble for BOOTSTRAP: the script's line count, then the script. */
export function framed(script: string): Buffer {
  const body = script.endsWith('\n') ? script : `${script}\n`;
  const lines = body.split('\n').length - 1;
  return Buffer.from(`${lines}\n${body}`, 'utf8');
}

/**
 * Resolves `envFile` into `env`: the file (relative to cwd) is read through the
 * transport and parsed as dotenv (see dotenv.ts), never sourced by a shell. Its values
 * are exported after `env`'s, as before. A missing file adds nothing.
 */
export async function resolveEnvFile(readFile: (p: string) => Promise<Buffer | null>, opts: ExecOptions): Promise<ExecOptions> {
  if (!opts.envFile) return opts;
  const file = path.isAbsolute(opts.envFile) ? opts.envFile : path.join(opts.cwd ?? '.', opts.envFile);
  const text = await readFile(file);
  const { envFile: _, ...rest } = opts;
  if (!text) return rest;
  return { ...rest, env: { ...(opts.env ?? {}), ...parseDotenv(text.toString('utf8')).values } };
}

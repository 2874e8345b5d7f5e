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
 * are exported after `env`'s, so the file wins over the config — except `SHIP_*` and
 * `PATH`, which the file never sets: ship's own variables (the release, the migration
 * file, the backfill cursor) mean what ship says (docs/security.md, "envFile is parsed,
 * never sourced"). Lines the parser skipped and names it ignored are passed to `warn`
 * (line numbers and names only, never values), once per file and text. A missing file
 * adds nothing.
 */
export async function resolveEnvFile(
  readFile: (p: string) => Promise<Buffer | null>,
  opts: ExecOptions,
  warn?: (msg: string) => void,
): Promise<ExecOptions> {
  if (!opts.envFile) return opts;
  const file = path.isAbsolute(opts.envFile) ? opts.envFile : path.join(opts.cwd ?? '.', opts.envFile);
  const text = await readFile(file);
  const { envFile: _, ...rest } = opts;
  if (!text) return rest;
  const { values, skipped, ignored } = envFileValues(text.toString('utf8'));
  if (warn) {
    const notes: string[] = [];
    if (skipped.length) notes.push(`line${skipped.length > 1 ? 's' : ''} ${skipped.join(', ')} not understood (skipped)`);
    if (ignored.length) notes.push(`${ignored.join(', ')} ignored (ship's own variables; an envFile never sets SHIP_* or PATH)`);
    if (notes.length) warnOnce(warn, `envFile ${file}: ${notes.join('; ')}`);
  }
  return { ...rest, env: { ...(opts.env ?? {}), ...values } };
}

/** Names an envFile may not set: ship's own variables and the command search path. */
export const isReservedEnvName = (k: string): boolean => k === 'PATH' || k.startsWith('SHIP_');

/** The values an envFile contributes, the lines it could not parse, and the names it may not set. */
export function envFileValues(text: string): { values: Record<string, string>; skipped: number[]; ignored: string[] } {
  const parsed = parseDotenv(text);
  const values: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(parsed.values)) {
    if (isReservedEnvName(k)) ignored.push(k);
    else values[k] = v;
  }
  return { values, skipped: parsed.skipped, ignored };
}

const warned = new WeakMap<(msg: string) => void, Set<string>>();
function warnOnce(warn: (msg: string) => void, msg: string): void {
  let seen = warned.get(warn);
  if (!seen) warned.set(warn, (seen = new Set()));
  if (seen.has(msg)) return;
  seen.add(msg);
  warn(msg);
}

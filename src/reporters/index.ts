import type { Events, Stamped } from '../events.js';
import { jsonReporter } from './json.js';
import { oraReporter, type OraFactory } from './ora.js';
import { plainReporter } from './plain.js';

export interface ReporterOptions {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  /** false: --no-color, NO_COLOR or FORCE_COLOR=0 (see colorWanted). */
  color?: boolean;
  /** false: no closing summary block on stdout (queries print their table; --json keeps it). */
  summary?: boolean;
  /** Where results go (stdout) and where diagnostics go (stderr). */
  out?: NodeJS.WriteStream | NodeJS.WritableStream;
  err?: NodeJS.WriteStream | NodeJS.WritableStream;
}

export type Reporter = { handle(e: Stamped): void; close(): void };

let ora: OraFactory | undefined;

/** Loads the spinner library when the terminal reporter will be used (it is not loaded otherwise). */
export async function prepareReporter(opts: ReporterOptions): Promise<void> {
  if (!ora && wantsSpinners(opts)) ora = (await import('ora')).default;
}

function wantsSpinners(opts: ReporterOptions): boolean {
  return !opts.json && isTerminal(opts.err ?? process.stderr) && !opts.verbose && !process.env.CI;
}

/** Colors unless --no-color, NO_COLOR (any non-empty value) or FORCE_COLOR=0. */
export function colorWanted(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  return true;
}

/** ora on a TTY (after prepareReporter), plain timestamped lines elsewhere, NDJSON with --json. */
export function attachReporter(events: Events, opts: ReporterOptions): Reporter {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  let r: Reporter;
  if (opts.json) r = jsonReporter(out, opts);
  else if (ora && wantsSpinners(opts)) r = oraReporter(out, err, opts, ora);
  else r = plainReporter(out, err, opts);
  const off = events.on((e) => r.handle(e));
  return {
    handle: r.handle,
    close() {
      off();
      r.close();
    },
  };
}

/** A real terminal with a known width (spinners redraw by lines; a width of 0 cannot be drawn on). */
function isTerminal(s: NodeJS.WritableStream): boolean {
  const w = s as NodeJS.WriteStream;
  return !!w.isTTY && (w.columns ?? 0) > 0;
}

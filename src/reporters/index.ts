import type { Events, Stamped } from '../events.js';
import { jsonReporter } from './json.js';
import { oraReporter } from './ora.js';
import { plainReporter } from './plain.js';

export interface ReporterOptions {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  color?: boolean;
  /** Where results go (stdout) and where diagnostics go (stderr). */
  out?: NodeJS.WriteStream | NodeJS.WritableStream;
  err?: NodeJS.WriteStream | NodeJS.WritableStream;
}

export type Reporter = { handle(e: Stamped): void; close(): void };

/** ora on a TTY, plain timestamped lines elsewhere, NDJSON with --json. */
export function attachReporter(events: Events, opts: ReporterOptions): Reporter {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  let r: Reporter;
  if (opts.json) r = jsonReporter(out);
  else if (isTerminal(err) && !opts.verbose && !process.env.CI) r = oraReporter(out, err, opts);
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

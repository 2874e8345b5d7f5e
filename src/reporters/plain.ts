import type { Stamped } from '../events.js';
import { describePlan } from '../runner.js';
import { backfillLine, commandLines, errorLines, fmtMs, summaryLines } from './format.js';
import type { Reporter, ReporterOptions } from './index.js';

/** Timestamped lines for CI logs: diagnostics on stderr, the summary on stdout. */
export function plainReporter(out: NodeJS.WritableStream, err: NodeJS.WritableStream, opts: ReporterOptions): Reporter {
  const line = (e: Stamped, text: string) => err.write(`${e.time.slice(11, 19)} ${text}\n`);
  const who = (host?: string) => (host ? `[${host}] ` : '');
  // Backfill progress: a line every few seconds (a batch may take milliseconds), and the last.
  let backfillShown = 0;
  return {
    handle(e: Stamped) {
      switch (e.type) {
        case 'plan':
          if (!opts.quiet) line(e, describePlan(e, 'on'));
          if (e.actions) for (const a of e.actions) err.write(`  ${a}\n`);
          break;
        case 'step':
          if (opts.quiet) break;
          if (e.status === 'start' && !e.host) line(e, `${e.step}${e.batch ? ` (batch ${e.batch})` : ''} …`);
          else if (e.status === 'done' && e.host) line(e, `${who(e.host)}${e.step} done${e.ms !== undefined ? ` (${fmtMs(e.ms)})` : ''}${e.message ? `: ${e.message}` : ''}`);
          else if (e.status === 'failed') line(e, `${who(e.host)}${e.step} FAILED${e.message ? `: ${e.message}` : ''}`);
          else if (e.status === 'skipped' && !e.host) line(e, `${e.step}${e.batch ? ` (batch ${e.batch})` : ''} skipped${e.message ? ` (${e.message})` : ''}`);
          else if (e.status === 'skipped' && opts.verbose) line(e, `${who(e.host)}${e.step} skipped${e.message ? `: ${e.message}` : ''}`);
          else if (opts.verbose) line(e, `${who(e.host)}${e.step} ${e.status}${e.ms !== undefined ? ` (${fmtMs(e.ms)})` : ''}`);
          break;
        case 'switch':
          if (!opts.quiet) line(e, `${who(e.host)}current -> ${e.release}${e.previous ? ` (was ${e.previous})` : ''}`);
          break;
        case 'backfill':
          if (opts.quiet) break;
          if (e.state === 'done' || opts.verbose || e.batch === 1 || Date.now() - backfillShown >= 5000) {
            backfillShown = Date.now();
            line(e, `${who(e.host)}${backfillLine(e)}`);
          }
          break;
        case 'health':
          if (!opts.quiet && (e.ok || opts.verbose)) line(e, `${who(e.host)}health ${e.ok ? 'ok' : 'not yet'}${e.status ? ` (${e.status})` : ''}${e.message ? `: ${e.message}` : ''}`);
          break;
        case 'hook':
          if (opts.verbose) line(e, `${who(e.host)}hook ${e.hook}: ${e.command}`);
          break;
        case 'command':
          if (opts.verbose) for (const l of commandLines(e)) line(e, `${who(e.host)}${l}`);
          break;
        case 'log':
          if (e.level === 'warn') line(e, `${who(e.host)}warning: ${e.message}`);
          else if (e.level === 'info' && !opts.quiet) line(e, `${who(e.host)}${e.message}`);
          else if (opts.verbose) line(e, `${who(e.host)}${e.message}`);
          break;
        case 'error':
          for (const l of errorLines(e)) err.write(`${l}\n`);
          break;
        case 'summary':
          if (opts.summary !== false) for (const l of summaryLines(e)) out.write(`${l}\n`);
          break;
      }
    },
    close() {},
  };
}

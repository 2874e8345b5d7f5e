import type { Ora, Options as OraOptions } from 'ora';
import type { Stamped } from '../events.js';
import { describePlan } from '../runner.js';
import { backfillLine, commandLines, errorLines, fmtMs, paint, summaryLines } from './format.js';
import type { Reporter, ReporterOptions } from './index.js';

export type OraFactory = (o: OraOptions) => Ora;

/**
 * A spinner per step on a TTY, listing each host as it finishes, with what the plain
 * reporter says of it (sent/reused counts, the release `current` now points at).
 * Colors are ship's own (none with --no-color or NO_COLOR), never the spinner library's.
 */
export function oraReporter(out: NodeJS.WritableStream, err: NodeJS.WritableStream, opts: ReporterOptions, ora: OraFactory): Reporter {
  const color = opts.color !== false;
  const ok = paint('green', '✔', color);
  const bad = paint('red', '✖', color);
  let spinner: Ora | undefined;
  let step = '';
  let hostsDone: string[] = [];
  const stop = (good: boolean, text?: string) => {
    if (!spinner) return;
    spinner.stopAndPersist({ symbol: good ? ok : bad, text: text ?? spinner.text });
    spinner = undefined;
  };
  const label = () => `${step}${hostsDone.length ? `  ${hostsDone.join('  ')}` : ''}`;
  const above = (text: string) => {
    spinner?.clear();
    err.write(`${text}\n`);
    spinner?.render();
  };
  return {
    handle(e: Stamped) {
      if (opts.quiet && e.type !== 'error' && e.type !== 'summary' && !(e.type === 'log' && e.level === 'warn')) return;
      switch (e.type) {
        case 'plan':
          err.write(`${describePlan(e, '→')}\n`);
          if (e.actions) for (const a of e.actions) err.write(`  ${a}\n`);
          break;
        case 'step':
          if (!e.host && e.status === 'start') {
            stop(true);
            step = e.batch ? `${e.step} (batch ${e.batch})` : e.step;
            hostsDone = [];
            spinner = ora({ text: step, stream: err as NodeJS.WriteStream, color: color ? 'cyan' : false, isEnabled: true }).start();
          } else if (!e.host && e.status === 'done') {
            stop(true, `${label()}${e.ms !== undefined ? ` (${fmtMs(e.ms)})` : ''}`);
          } else if (!e.host && e.status === 'skipped') {
            if (spinner) {
              spinner.stopAndPersist({ symbol: paint('dim', '–', color), text: `${step} skipped${e.message ? ` (${e.message})` : ''}` });
              spinner = undefined;
            }
          } else if (!e.host && e.status === 'failed') {
            stop(false, `${step} failed`);
          } else if (e.host && e.status === 'done' && spinner) {
            hostsDone.push(`${e.host} ${ok}${e.message ? ` ${e.message}` : ''}`);
            spinner.text = label();
          } else if (e.host && e.status === 'failed' && spinner) {
            hostsDone.push(`${e.host} ${bad}`);
            spinner.text = label();
          }
          break;
        case 'switch':
          above(`  ${e.host}: current → ${e.release}${e.previous ? ` (was ${e.previous})` : ''}`);
          break;
        case 'backfill':
          if (e.state === 'done') {
            spinner?.clear();
            err.write(`[${e.host}] ${backfillLine(e)}\n`);
            spinner?.render();
          } else if (spinner) spinner.text = `${label()}  [${e.host}] ${backfillLine(e)}`;
          break;
        case 'command':
          // --verbose picks the plain reporter; an API caller may still attach this one.
          if (opts.verbose) for (const l of commandLines(e)) above(`[${e.host}] ${l}`);
          break;
        case 'log':
          if (e.level === 'warn') above(`${paint('yellow', '⚠', color)} ${e.host ? `[${e.host}] ` : ''}${e.message}`);
          else if (e.level === 'info') above(`${e.host ? `[${e.host}] ` : ''}${e.message}`);
          break;
        case 'error':
          stop(false);
          for (const l of errorLines(e)) err.write(`${paint('red', l, color)}\n`);
          break;
        case 'summary':
          stop(e.exitCode === 0);
          if (opts.summary !== false) for (const l of summaryLines(e)) out.write(`${l}\n`);
          break;
      }
    },
    close() {
      stop(true);
    },
  };
}

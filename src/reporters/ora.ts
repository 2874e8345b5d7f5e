import ora, { type Ora } from 'ora';
import type { Stamped } from '../events.js';
import { backfillLine, errorLines, fmtMs, summaryLines } from './format.js';
import type { Reporter, ReporterOptions } from './index.js';

/** A spinner per step on a TTY, listing each host as it finishes. */
export function oraReporter(out: NodeJS.WritableStream, err: NodeJS.WritableStream, opts: ReporterOptions): Reporter {
  let spinner: Ora | undefined;
  let step = '';
  let hostsDone: string[] = [];
  const stop = (ok: boolean, text?: string) => {
    if (!spinner) return;
    if (ok) spinner.succeed(text);
    else spinner.fail(text);
    spinner = undefined;
  };
  const label = () => `${step}${hostsDone.length ? `  ${hostsDone.join('  ')}` : ''}`;
  return {
    handle(e: Stamped) {
      if (opts.quiet && e.type !== 'error' && e.type !== 'summary') return;
      switch (e.type) {
        case 'plan':
          err.write(`${e.dryRun ? 'dry run: ' : ''}${e.command} ${e.stage}${e.release ? ` ${e.release}` : ''} → ${e.hosts.join(', ')}\n`);
          if (e.actions) for (const a of e.actions) err.write(`  ${a}\n`);
          break;
        case 'step':
          if (!e.host && e.status === 'start') {
            stop(true);
            step = e.batch ? `${e.step} (batch ${e.batch})` : e.step;
            hostsDone = [];
            spinner = ora({ text: step, stream: err as NodeJS.WriteStream, color: 'cyan', isEnabled: true }).start();
          } else if (!e.host && e.status === 'done') {
            stop(true, `${label()}${e.ms !== undefined ? ` (${fmtMs(e.ms)})` : ''}`);
          } else if (!e.host && e.status === 'failed') {
            stop(false, `${step} failed`);
          } else if (e.host && e.status === 'done' && spinner) {
            hostsDone.push(`${e.host} ✓`);
            spinner.text = label();
          } else if (e.host && e.status === 'failed' && spinner) {
            hostsDone.push(`${e.host} ✗`);
            spinner.text = label();
          }
          break;
        case 'switch':
          if (spinner) spinner.text = `${label()}  ${e.host} → ${e.release}`;
          break;
        case 'backfill':
          if (e.state === 'done') {
            spinner?.clear();
            err.write(`[${e.host}] ${backfillLine(e)}\n`);
            spinner?.render();
          } else if (spinner) spinner.text = `${label()}  [${e.host}] ${backfillLine(e)}`;
          break;
        case 'log':
          if (e.level === 'warn' || e.level === 'info') {
            spinner?.clear();
            err.write(`${e.level === 'warn' ? '⚠ ' : ''}${e.host ? `[${e.host}] ` : ''}${e.message}\n`);
            spinner?.render();
          }
          break;
        case 'error':
          stop(false);
          for (const l of errorLines(e)) err.write(`${l}\n`);
          break;
        case 'summary':
          stop(e.exitCode === 0);
          for (const l of summaryLines(e)) out.write(`${l}\n`);
          break;
      }
    },
    close() {
      stop(true);
    },
  };
}

import type { Stamped } from '../events.js';

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The closing summary, as lines of text for stdout. */
export function summaryLines(e: Extract<Stamped, { type: 'summary' }>): string[] {
  const lines: string[] = [];
  const verdict = e.exitCode === 0 ? 'ok' : `failed (exit ${e.exitCode})`;
  lines.push(`ship ${e.command}${e.stage && e.stage !== 'undefined' ? ` ${e.stage}` : ''}: ${verdict}${e.release ? ` — release ${e.release}` : ''} in ${fmtMs(e.ms)}`);
  if (e.message) lines.push(`  ${e.message}`);
  if (e.hosts.length) lines.push(`  hosts: ${e.hosts.join(', ')}`);
  const steps = Object.entries(e.steps);
  if (steps.length) lines.push(`  steps: ${steps.map(([s, ms]) => `${s} ${fmtMs(ms)}`).join(', ')}`);
  if (e.bytesSent) lines.push(`  sent: ${fmtBytes(e.bytesSent)}`);
  const pruned = Object.entries(e.pruned).filter(([, ids]) => ids.length);
  if (pruned.length) lines.push(`  pruned: ${pruned.map(([h, ids]) => `${h}: ${ids.join(' ')}`).join('; ')}`);
  return lines;
}

export function errorLines(e: Extract<Stamped, { type: 'error' }>): string[] {
  const lines = [`error: ${e.message}`];
  if (e.hint) lines.push(`  hint: ${e.hint}`);
  return lines;
}

/** One backfill progress line: "003_fill.backfill.sql: 41 batches, 205000 rows, 25000 rows/s, 795000 left, ETA 32.0s". */
export function backfillLine(e: Extract<Stamped, { type: 'backfill' }>): string {
  const parts = [`${e.batch} batch${e.batch === 1 ? '' : 'es'}`, `${e.totalRows} rows`];
  if (e.last !== undefined) parts.push(`last key ${e.last}`);
  if (e.rate !== undefined) parts.push(`${e.rate} rows/s`);
  if (e.state === 'done') return `backfill ${e.file} done: ${parts.join(', ')} in ${fmtMs(e.elapsed)}`;
  if (e.remaining !== undefined) parts.push(`${e.remaining} left`);
  if (e.eta !== undefined) parts.push(`ETA ${fmtMs(e.eta)}`);
  return `backfill ${e.file}: ${parts.join(', ')}`;
}

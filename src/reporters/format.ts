import type { Stamped } from '../events.js';

/** A duration: 850ms, 4.2s, 3m 5s, 2h 10m, 3d 4h (the two largest units from minutes up). */
export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return h ? `${d}d ${h}h` : `${d}d`;
  if (h) return m ? `${h}h ${m}m` : `${h}h`;
  return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
}

/** How long ago `iso` was, with the date: `3d 4h ago (2026-11-27 10:15 UTC)`. */
export function fmtAge(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const ago = now - t < 60_000 ? 'just now' : `${fmtMs(Math.max(0, now - t)).replace(/ \d+s$/, '')} ago`;
  return `${ago} (${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC)`;
}

/** A size in bytes, KB, MB or GB (powers of 1000, as the unit names say). */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} KB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

const COLORS = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2 } as const;

/** ANSI color when `on`, the text as it is otherwise. */
export function paint(color: keyof typeof COLORS, text: string, on: boolean): string {
  return on ? `\x1b[${COLORS[color]}m${text}\x1b[${color === 'dim' ? 22 : 39}m` : text;
}

/** What a dry run of a command would have done with its release. */
const WOULD: Record<string, string> = { switch: 'switch to', rollback: 'roll back to' };

/** The closing summary, as lines of text for stdout. */
export function summaryLines(e: Extract<Stamped, { type: 'summary' }>): string[] {
  const lines: string[] = [];
  const verdict = `${e.dryRun ? 'dry run ' : ''}${e.exitCode === 0 ? 'ok' : `failed (exit ${e.exitCode})`}`;
  const stage = e.stage && e.stage !== 'undefined' ? ` ${e.stage}` : '';
  // A dry run made no release: it names the one it would have made (or put live), and says nothing changed.
  if (e.dryRun) lines.push(`ship ${e.command}${stage}: ${verdict}${e.release ? ` — would ${WOULD[e.command] ?? e.command} release ${e.release}` : ''}; nothing was changed (${fmtMs(e.ms)})`);
  else lines.push(`ship ${e.command}${stage}: ${verdict}${e.release ? ` — release ${e.release}` : ''} in ${fmtMs(e.ms)}`);
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

/** Control characters (NULs in ship's own probes, a remote's escape sequences) shown, never sent to the terminal. */
const visible = (s: string) => s.replace(/\0/g, '\u2400').replace(/[\x01-\x08\x0b-\x1f\x7f]/g, '?');

/**
 * A remote command (--verbose): `$ command  (exit 0, 12ms)` (`~ ` for a change to the
 * host's files), then its output, `| ` for stdout and `! ` for stderr.
 */
export function commandLines(e: Extract<Stamped, { type: 'command' }>): string[] {
  const status = e.code === null ? 'did not finish' : `exit ${e.code}`;
  const out = (text: string, mark: string) => (text ? visible(text.replace(/\n$/, '')).split('\n').map((l) => `  ${mark} ${l}`) : []);
  const [first, ...more] = visible(e.command).split('\n');
  return [`${e.kind === 'file' ? '~' : '$'} ${first}${more.length ? '' : `  (${status}, ${fmtMs(e.ms)})`}`, ...more.map((l, i) => `  > ${l}${i === more.length - 1 ? `  (${status}, ${fmtMs(e.ms)})` : ''}`), ...out(e.stdout, '|'), ...out(e.stderr, '!')];
}

/**
 * Backfills: `<id>_<name>.backfill.<ext>` files that move data in batches between an
 * expand and its contract. ship runs the file again and again, one batch per run (one
 * transaction each), and the file says how much is left. Pure: the protocol, progress
 * from the ledger, and which contracts a backfill holds back.
 *
 * The protocol. A run prints `key=value` words on stdout; the last of each key wins:
 *   rows=<n>       rows this batch touched (recorded, summed in the ledger)
 *   last=<key>     the last key it reached; passed as `after` to the next run (empty:
 *                  keep the previous one); printable, at most LAST_MAX characters
 *   remaining=<n>  rows left (an estimate is fine; only 0 versus more matters)
 * Only some lines count, so that data a batch prints (a row holding `remaining=0`)
 * never speaks for it: the lines that start with $SHIP_BACKFILL_TAG (a random word ship
 * makes for each batch, so only ship and the file know it), or, when no line does, the
 * last non-empty line alone. Words may be separated by spaces or psql's `|`, so `\echo
 * rows=:rows last=:last remaining=:remaining` and `select 'rows=' || n, 'last=' || k`
 * both work as the last line.
 * Exit status 0: `remaining=0` means done, `remaining>0` more to do; without
 * `remaining=`, `rows=0` means done and `rows>0` more; with neither the run is an error
 * (a backfill must never be taken for finished by accident). Exit status 3: more to do,
 * whatever it printed. Any other status: the batch failed.
 */
import { substituteFile, substituteVariable } from './template.js';
import { byId, compareIds, type Migration } from './discovery.js';
import type { LedgerEntry } from './ledger.js';

/** The exit status by which a backfill run says "more to do". */
export const MORE_EXIT = 3;

export interface BatchReport {
  rows?: number;
  last?: string;
  remaining?: number;
  /** Another batch is needed. */
  more: boolean;
}

const WORD = /(?:^|[\s|,;])(rows|last|remaining)=([^\s|,;]*)/g;

/** The longest `last=` key ship keeps. */
export const LAST_MAX = 256;

/** The lines of a batch's stdout that speak for it: those starting with `tag`, else the last non-empty one. */
export function protocolLines(stdout: string, tag?: string): string[] {
  const lines = stdout.split('\n').map((l) => l.replace(/\r$/, ''));
  if (tag) {
    const tagged = lines.filter((l) => l.startsWith(tag)).map((l) => l.slice(tag.length));
    if (tagged.length) return tagged;
  }
  const last = lines.filter((l) => l.trim()).at(-1);
  return last === undefined ? [] : [last];
}

/**
 * What a batch run reported, from its stdout and exit status (0 or {@link MORE_EXIT}):
 * the words of its protocol lines (those after `tag`, else the last line).
 */
export function parseBatchOutput(stdout: string, code: number, tag?: string): BatchReport | Error {
  const seen: Record<string, string> = {};
  for (const line of protocolLines(stdout, tag)) for (const m of line.matchAll(WORD)) seen[m[1]] = m[2];
  if (seen.last && (seen.last.length > LAST_MAX || /\p{C}/u.test(seen.last))) {
    return new Error(`last=${JSON.stringify(seen.last.slice(0, 40))}${seen.last.length > 40 ? '…' : ''} is not a key ship keeps (printable, at most ${LAST_MAX} characters)`);
  }
  const count = (k: 'rows' | 'remaining'): number | undefined | Error => {
    const v = seen[k];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) return new Error(`${k}=${v} is not a count (expected ${k}=<n>, a whole number)`);
    return Number(v);
  };
  const rows = count('rows');
  const remaining = count('remaining');
  if (rows instanceof Error) return rows;
  if (remaining instanceof Error) return remaining;
  const last = seen.last ? seen.last : undefined;
  if (code === MORE_EXIT) return { rows, last, remaining, more: true };
  if (code !== 0) return new Error(`exit status ${code} is not part of the protocol (0: see remaining=, ${MORE_EXIT}: more to do)`);
  if (remaining !== undefined) return { rows, last, remaining, more: remaining > 0 };
  if (rows !== undefined) return { rows, last, remaining, more: rows > 0 };
  return new Error(`it printed neither remaining=<n> nor rows=<n>, so ship cannot tell whether it is done (exit ${MORE_EXIT} for "more to do")`);
}

/** A backfill's progress as the ledger has it. */
export interface BackfillProgress {
  id: string;
  name: string;
  file: string;
  state: 'running' | 'done';
  batches: number;
  rows: number;
  last?: string;
  remaining?: number;
  /** Milliseconds its batches ran, every run together. */
  elapsed: number;
  /** The release whose file ran last. */
  release: string;
  /** When the last batch finished. */
  time: string;
}

/** Progress of every backfill the ledger mentions, by id (a `done` line ends it). */
export function backfillProgress(ledger: LedgerEntry[]): Map<string, BackfillProgress> {
  const out = new Map<string, BackfillProgress>();
  for (const e of ledger) {
    if (e.phase !== 'backfill') continue;
    const p = out.get(e.id);
    if (p?.state === 'done') continue;
    out.set(e.id, {
      id: e.id,
      name: e.name,
      file: e.file,
      state: e.state === 'done' ? 'done' : 'running',
      batches: e.batch ?? (p?.batches ?? 0) + 1,
      rows: e.totalRows ?? (p?.rows ?? 0) + (e.rows ?? 0),
      last: e.last ?? p?.last,
      remaining: e.remaining,
      elapsed: e.duration,
      release: e.release,
      time: e.time,
    });
  }
  return out;
}

/** The backfills of a release that are not done, in id order. */
export function pendingBackfills(migrations: Migration[], ledger: LedgerEntry[]): Migration[] {
  const progress = backfillProgress(ledger);
  return byId(migrations.filter((m) => m.phase === 'backfill' && progress.get(m.id)?.state !== 'done'));
}

/** An unfinished backfill known to some release or to the ledger. */
export interface OpenBackfill {
  id: string;
  file: string;
  progress?: BackfillProgress;
}

/**
 * Backfills not done: those any of the given releases hold, and those the ledger has
 * started (a release that held it may be gone). In id order.
 */
export function openBackfills(releases: Migration[][], ledger: LedgerEntry[]): OpenBackfill[] {
  const progress = backfillProgress(ledger);
  const open = new Map<string, OpenBackfill>();
  for (const p of progress.values()) if (p.state !== 'done') open.set(p.id, { id: p.id, file: p.file, progress: p });
  for (const list of releases) {
    for (const m of list) {
      if (m.phase !== 'backfill' || progress.get(m.id)?.state === 'done' || open.has(m.id)) continue;
      open.set(m.id, { id: m.id, file: m.file });
    }
  }
  return byId([...open.values()]);
}

/** Unfinished backfills with an id lower than the contract's: they hold it back, whatever the contract policy. */
export function backfillsBlocking(contractId: string, open: OpenBackfill[]): OpenBackfill[] {
  return open.filter((b) => compareIds(b.id, contractId) < 0);
}

export function describeOpen(b: OpenBackfill): string {
  const p = b.progress;
  if (!p) return `backfill ${b.file} has not run yet`;
  return `backfill ${b.file} is not done (${progressWords(p)})`;
}

/** "12 batches, 60000 rows, last key 60000" */
export function progressWords(p: { batches: number; rows: number; last?: string; remaining?: number }): string {
  return `${p.batches} batch${p.batches === 1 ? '' : 'es'}, ${p.rows} rows${p.last !== undefined ? `, last key ${p.last}` : ''}${p.remaining !== undefined ? `, ${p.remaining} left` : ''}`;
}

/** Rows per second and the time left, from the rows moved in `ms` and what is left. */
export function rateAndEta(rows: number, ms: number, remaining: number | undefined): { rate?: number; eta?: number } {
  if (ms <= 0 || rows <= 0) return {};
  const rate = (rows * 1000) / ms;
  return { rate: Math.round(rate), eta: remaining === undefined ? undefined : Math.round((remaining / rate) * 1000) };
}

/**
 * The command for one batch (or one migration): an executable runs directly; otherwise
 * `migrations.run` with `{file}` and `{after}` turned into references to
 * $SHIP_MIGRATION_FILE and $SHIP_BACKFILL_AFTER (never pasted: see template.ts) and
 * `{batch}` into the batch size, a whole number.
 */
export function batchCommand(run: string | undefined, m: Migration, batch: number, quote: (s: string) => string): string {
  if (m.executable || !run) return `./${quote(m.path)}`;
  return substituteVariable(substituteFile(run), '{after}', 'SHIP_BACKFILL_AFTER').split('{batch}').join(String(Math.trunc(batch)));
}

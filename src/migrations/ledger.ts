/**
 * The ledger `.ship/migrations.jsonl` on the migration host: one JSON line per applied
 * migration. Pure parsing and formatting.
 */
import type { Phase } from './discovery.js';

export interface LedgerEntry {
  id: string;
  name: string;
  file: string;
  phase: Phase;
  sha256: string;
  /** The release whose file ran. */
  release: string;
  /** ISO 8601 UTC, when it finished. */
  time: string;
  /** Milliseconds it ran. */
  duration: number;
  host: string;
  user?: string;
  /**
   * Backfills write one line per batch (see backfill.ts): `running` until a batch reports
   * nothing left, whose line says `done`. Only a `done` line makes a backfill applied.
   */
  state?: 'running' | 'done';
  /** Backfill: this batch's number (1-based, counted over every run). */
  batch?: number;
  /** Backfill: rows this batch touched, as the file reported them. */
  rows?: number;
  /** Backfill: rows of every batch so far, this one included. */
  totalRows?: number;
  /** Backfill: the last key this batch reached (passed as `after` to the next). */
  last?: string;
  /** Backfill: what this batch reported left (undefined: it did not say). */
  remaining?: number;
  /** Backfill: milliseconds this batch ran. */
  batchMs?: number;
}

export function parseLedger(text: string): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LedgerEntry;
      if (e && typeof e.id === 'string') out.push(e);
    } catch {
      /* a torn last line (a killed run) is skipped: that migration counts as not applied */
    }
  }
  return out;
}

export function ledgerLine(e: LedgerEntry): string {
  return `${JSON.stringify(e)}\n`;
}

/**
 * Applied migrations by id (the first record wins: an id runs once). A backfill counts
 * from its `done` line on; its `running` lines are progress, not an application.
 */
export function appliedById(ledger: LedgerEntry[]): Map<string, LedgerEntry> {
  const m = new Map<string, LedgerEntry>();
  for (const e of ledger) if (!m.has(e.id) && !(e.phase === 'backfill' && e.state !== 'done')) m.set(e.id, e);
  return m;
}

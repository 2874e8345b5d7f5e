/**
 * Decisions about migrations, from file lists and the ledger: which host runs them,
 * what is pending, which contracts are runnable now and why not. Pure.
 */
import { backfillProgress, backfillsBlocking, describeOpen, openBackfills, type OpenBackfill } from './backfill.js';
import { byId, type Migration, type Phase } from './discovery.js';
import { appliedById, type LedgerEntry } from './ledger.js';

/** The first host with role `db`, else the first host (README, Migrations). */
export function migrationHostOf<T extends { roles: string[] }>(hosts: T[]): T | undefined {
  return hosts.find((h) => h.roles.includes('db')) ?? hosts[0];
}

export interface ChecksumMismatch {
  id: string;
  file: string;
  path: string;
  release: string;
  applied: string;
  now: string;
  appliedFrom: string;
}

/** Applied migrations whose file in `release` no longer has the checksum the ledger recorded. */
export function checksumMismatches(migrations: Migration[], ledger: LedgerEntry[], release: string): ChecksumMismatch[] {
  const applied = appliedById(ledger);
  const out: ChecksumMismatch[] = [];
  for (const m of migrations) {
    const a = applied.get(m.id);
    if (a && a.sha256 !== m.sha256) out.push({ id: m.id, file: m.file, path: m.path, release, applied: a.sha256, now: m.sha256, appliedFrom: a.release });
  }
  return out;
}

export function describeMismatch(m: ChecksumMismatch): string {
  return `${m.path} in release ${m.release} changed after it was applied (sha256 ${m.now.slice(0, 12)}…, applied ${m.applied.slice(0, 12)}… from release ${m.appliedFrom})`;
}

/** Expand migrations of a release that the ledger lacks, in id order. */
export function pendingExpands(migrations: Migration[], ledger: LedgerEntry[]): Migration[] {
  const applied = appliedById(ledger);
  return byId(migrations.filter((m) => m.phase === 'expand' && !applied.has(m.id)));
}

/** What one host holds: its current release's migrations and those of its other good releases. */
export interface HostMigrations {
  host: string;
  /** Undefined when the host has no current release. */
  current?: string;
  currentMigrations: Migration[];
  /** Good (published, not failed, not rolled back) releases and their migrations, current included. */
  releases: { id: string; migrations: Migration[] }[];
  /** The host could not be reached: it holds every contract back. */
  unreachable?: boolean;
}

export interface ContractState {
  id: string;
  name: string;
  file: string;
  phase: 'contract';
  /** The newest release (on any host) holding the file. */
  release: string;
  runnable: boolean;
  /** Why it cannot run yet (hosts whose current release lacks the file). */
  reason?: string;
  /** Hosts whose current release lacks the file. */
  blockedBy: string[];
  /** Unfinished backfills with a lower id (files): they hold it back too. */
  backfills: string[];
}

/**
 * Contract migrations are pending when a good release on some host holds a file the
 * ledger lacks (README, When contract migrations run); one is runnable when every host's current release contains it
 * and every backfill with a lower id (in any of those releases, or started in the
 * ledger) is done.
 */
export function pendingContracts(hosts: HostMigrations[], ledger: LedgerEntry[]): ContractState[] {
  const applied = appliedById(ledger);
  const found = new Map<string, { m: Migration; release: string }>();
  for (const h of hosts) {
    for (const r of h.releases) {
      for (const m of r.migrations) {
        if (m.phase !== 'contract' || applied.has(m.id)) continue;
        const prev = found.get(m.id);
        if (!prev || prev.release < r.id) found.set(m.id, { m, release: r.id });
      }
    }
  }
  const open: OpenBackfill[] = openBackfills(hosts.flatMap((h) => h.releases.map((r) => r.migrations)), ledger);
  const out: ContractState[] = [];
  for (const { m, release } of found.values()) {
    const blocked: string[] = [];
    const why: string[] = [];
    const backfills = backfillsBlocking(m.id, open);
    for (const b of backfills) why.push(describeOpen(b));
    for (const h of hosts) {
      if (h.unreachable) {
        blocked.push(h.host);
        why.push(`${h.host} could not be reached`);
      } else if (!h.current) {
        blocked.push(h.host);
        why.push(`${h.host} has no current release`);
      } else if (!h.currentMigrations.some((x) => x.file === m.file)) {
        blocked.push(h.host);
        why.push(`${h.host} runs ${h.current}, which lacks it`);
      }
    }
    out.push({
      id: m.id,
      name: m.name,
      file: m.file,
      phase: 'contract',
      release,
      runnable: blocked.length === 0 && backfills.length === 0,
      reason: why.length ? why.join('; ') : undefined,
      blockedBy: blocked,
      backfills: backfills.map((b) => b.file),
    });
  }
  return byId(out);
}

/** One line of `ship migrate --status`. */
export interface MigrationRow {
  id: string;
  name: string;
  file: string;
  phase: Phase;
  /** `running`: a backfill with recorded batches that has not reported nothing left. */
  state: 'applied' | 'pending' | 'running';
  /** Pending ones: whether `ship migrate` (expand) or `ship migrate --contract` would run it now. */
  runnable?: boolean;
  reason?: string;
  /** Applied: the release it ran from and when; pending: the release that holds it. */
  release?: string;
  time?: string;
  duration?: number;
  sha256?: string;
  /** Applied, but the file in the reference release differs from what ran. */
  changed?: boolean;
  /** Backfills: batches, rows and the last key recorded, what the last batch said is left. */
  batches?: number;
  rows?: number;
  last?: string;
  remaining?: number;
}

/**
 * Everything the ledger and the releases say: applied ones (ledger order by id), pending
 * expands of the reference release (what `ship migrate` would run), pending contracts.
 */
export function statusRows(ledger: LedgerEntry[], ref: { release: string; migrations: Migration[] } | undefined, contracts: ContractState[]): MigrationRow[] {
  const applied = [...appliedById(ledger).values()];
  const refById = new Map((ref?.migrations ?? []).map((m) => [m.id, m]));
  const progress = backfillProgress(ledger);
  const counts = (id: string) => {
    const p = progress.get(id);
    return p ? { batches: p.batches, rows: p.rows, last: p.last, remaining: p.remaining } : {};
  };
  const rows: MigrationRow[] = applied.map((e) => ({
    id: e.id,
    name: e.name,
    file: e.file,
    phase: e.phase,
    state: 'applied',
    release: e.release,
    time: e.time,
    duration: e.duration,
    sha256: e.sha256,
    changed: refById.has(e.id) && refById.get(e.id)!.sha256 !== e.sha256 ? true : undefined,
    ...(e.phase === 'backfill' ? counts(e.id) : {}),
  }));
  // Backfills not done: started ones (whatever release), and those of the reference release.
  const openIds = new Set<string>();
  for (const p of progress.values()) {
    if (p.state === 'done') continue;
    openIds.add(p.id);
    rows.push({ id: p.id, name: p.name, file: p.file, phase: 'backfill', state: 'running', runnable: true, release: ref?.release ?? p.release, time: p.time, duration: p.elapsed, ...counts(p.id) });
  }
  for (const m of ref?.migrations ?? []) {
    if (m.phase !== 'backfill' || openIds.has(m.id) || progress.get(m.id)?.state === 'done') continue;
    rows.push({ id: m.id, name: m.name, file: m.file, phase: 'backfill', state: 'pending', runnable: true, release: ref!.release, sha256: m.sha256 });
  }
  for (const m of ref ? pendingExpands(ref.migrations, ledger) : []) {
    rows.push({ id: m.id, name: m.name, file: m.file, phase: 'expand', state: 'pending', runnable: true, release: ref!.release, sha256: m.sha256 });
  }
  for (const c of contracts) {
    rows.push({ id: c.id, name: c.name, file: c.file, phase: 'contract', state: 'pending', runnable: c.runnable, reason: c.reason, release: c.release });
  }
  return byId(rows);
}

/** Applied contract migrations a release lacks: a rollback to it would run code the schema no longer fits. */
export function contractsMissingFrom(ledger: LedgerEntry[], releaseMigrations: Migration[]): LedgerEntry[] {
  const files = new Set(releaseMigrations.map((m) => m.file));
  const ids = new Set(releaseMigrations.map((m) => m.id));
  return byId([...appliedById(ledger).values()].filter((e) => e.phase === 'contract' && !files.has(e.file) && !ids.has(e.id)));
}

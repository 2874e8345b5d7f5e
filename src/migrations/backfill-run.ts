/**
 * Running backfill migrations on the migration host: one batch per run of the file, a
 * ledger line after every batch, resumed from the last recorded key.
 *
 * The window between a batch's commit and its ledger line (a kill, a lost connection)
 * means the next run may repeat that one batch from the previous key. A keyset backfill
 * that only touches rows still needing it (`where street_name is null`) makes the repeat
 * harmless: it finds the rows done and reports them as 0 rows touched.
 */
import { randomBytes } from 'node:crypto';
import type { Ctx, HostRun } from '../context.js';
import { hostEnv } from '../context.js';
import { CommandError, ShipError } from '../errors.js';
import { ensureLocks } from '../lock.js';
import { fmtMs } from '../reporters/format.js';
import { quote, raw } from '../shell.js';
import { backfillProgress, batchCommand, parseBatchOutput, pendingBackfills, progressWords, rateAndEta } from './backfill.js';
import type { Migration } from './discovery.js';
import type { LedgerEntry } from './ledger.js';
import { appendLedger, releaseMigrations } from './remote.js';

export interface BackfillOutcome {
  /** Backfills that reported nothing left in this run. */
  done: string[];
  /** The backfill that stopped at `maxBatches` or `timeout` (the rest did not start). */
  unfinished?: string;
}

/**
 * Runs (or resumes) the given backfills of `release` in id order, each to its end unless
 * `migrations.backfill.maxBatches` or `timeout` stop this run first. A failing batch
 * throws; the batches before it stay recorded. Ctrl-C stops after the running batch.
 */
export async function runBackfills(ctx: Ctx, db: HostRun, release: string, backfills: Migration[], ledger: LedgerEntry[]): Promise<BackfillOutcome> {
  const cfg = ctx.stage.migrations.backfill;
  const { run } = ctx.stage.migrations;
  const out: BackfillOutcome = { done: [] };
  if (!backfills.length) return out;
  checkRunnable(db, backfills, run);
  const progress = backfillProgress(ledger);
  const t0 = Date.now();
  let batchesThisRun = 0;
  for (const m of backfills) {
    const p = progress.get(m.id);
    let batch = p?.batches ?? 0;
    let totalRows = p?.rows ?? 0;
    let last = p?.last;
    let elapsed = p?.elapsed ?? 0;
    let runRows = 0;
    let runMs = 0;
    if (p) ctx.events.log(`resuming backfill ${m.file} after key ${last ?? '(none)'} (${progressWords(p)})`, db.name);
    else ctx.events.log(`backfill ${m.file} in batches of ${cfg.batch}`, db.name);
    for (;;) {
      if (ctx.interrupted) throw new ShipError(`interrupted during backfill ${m.file} after batch ${batch} (recorded; it resumes after key ${last ?? '(none)'})`, { reason: 'interrupted' });
      if (cfg.maxBatches !== undefined && batchesThisRun >= cfg.maxBatches) return stop(`migrations.backfill.maxBatches (${cfg.maxBatches})`);
      if (cfg.timeout !== undefined && Date.now() - t0 >= cfg.timeout) return stop(`migrations.backfill.timeout (${fmtMs(cfg.timeout)})`);
      // The lease before every batch, and again before its ledger line: a run that lost
      // its lock neither starts a batch nor records one (docs/locks.md).
      await ensureLocks(ctx);
      const command = batchCommand(run, m, cfg.batch, quote);
      const what = `backfill ${m.id} (${m.path}, release ${release}) batch ${batch + 1} after key ${last ?? '(none)'}`;
      const tag = `ship-backfill-${randomBytes(8).toString('hex')}`;
      const b0 = Date.now();
      const r = await db.t.exec(raw(command), {
        cwd: db.paths.release(release),
        env: {
          ...hostEnv(ctx, db),
          SHIP_RELEASE: release,
          SHIP_RELEASE_PATH: db.paths.release(release),
          SHIP_MIGRATION_ID: m.id,
          SHIP_MIGRATION_FILE: m.path,
          SHIP_MIGRATION_PHASE: m.phase,
          SHIP_BACKFILL_BATCH: String(cfg.batch),
          SHIP_BACKFILL_AFTER: last ?? '',
          SHIP_BACKFILL_BATCH_NUMBER: String(batch + 1),
          SHIP_BACKFILL_TAG: tag,
        },
        envFile: ctx.stage.envFile,
      });
      const ms = Date.now() - b0;
      if (r.code !== 0 && r.code !== 3) throw new CommandError(db.name, what, r, `the ${batch} batches before it stay recorded: fix the file and run ship migrate ${ctx.stage.name} --backfill to resume`);
      const rep = parseBatchOutput(r.stdout, r.code, tag);
      if (rep instanceof Error) {
        throw new ShipError(`${db.name}: ${what}: ${rep.message}`, {
          host: db.name,
          reason: 'backfill-protocol',
          hint: 'print remaining=<n> (0 when done), rows=<n> and last=<key> on the last line of stdout (e.g. with \\echo in psql), or on lines starting with $SHIP_BACKFILL_TAG',
        });
      }
      batch++;
      batchesThisRun++;
      const rows = rep.rows ?? 0;
      totalRows += rows;
      runRows += rows;
      runMs += ms;
      elapsed += ms;
      if (rep.last !== undefined) last = rep.last;
      const state = rep.more ? 'running' : 'done';
      await ensureLocks(ctx);
      await appendLedger(db, {
        id: m.id,
        name: m.name,
        file: m.file,
        phase: 'backfill',
        sha256: m.sha256,
        release,
        time: new Date().toISOString(),
        duration: elapsed,
        host: db.name,
        user: ctx.user,
        state,
        batch,
        rows,
        totalRows,
        last,
        remaining: rep.remaining,
        batchMs: ms,
      });
      const { rate, eta } = rateAndEta(runRows, runMs, rep.remaining);
      ctx.events.emit({ type: 'backfill', host: db.name, id: m.id, file: m.file, state, batch, rows, totalRows, last, remaining: rep.remaining, ms, elapsed, rate, eta });
      if (!rep.more) {
        out.done.push(m.id);
        break;
      }
      if (cfg.pause > 0) await sleep(cfg.pause);
    }

    function stop(why: string): BackfillOutcome {
      ctx.events.warn(
        `backfill ${m.file} stopped by ${why} after ${batch} batches, ${totalRows} rows (last key ${last ?? '(none)'}): it resumes on the next deploy or ship migrate ${ctx.stage.name} --backfill; contracts after it wait`,
        db.name,
      );
      out.unfinished = m.id;
      return out;
    }
  }
  return out;
}

function checkRunnable(db: HostRun, backfills: Migration[], run: string | undefined): void {
  const unrunnable = backfills.filter((m) => !m.executable && !run);
  if (unrunnable.length) {
    throw new ShipError(`${db.name}: no way to run ${unrunnable.map((m) => m.path).join(', ')}: not executable, and migrations.run is not set`, {
      host: db.name,
      reason: 'migrations',
      hint: 'set migrations.run (e.g. psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v batch={batch} -v after={after} -f {file}) or make the file executable',
    });
  }
}

/** What runBackfillGroups would run, said and not done (a dry run). */
export function previewBackfillGroups(ctx: Ctx, db: HostRun, groups: BackfillGroup[], ledger: LedgerEntry[]): void {
  const cfg = ctx.stage.migrations.backfill;
  const progress = backfillProgress(ledger);
  for (const g of groups) {
    checkRunnable(db, g.migrations, ctx.stage.migrations.run);
    for (const m of g.migrations) {
      const p = progress.get(m.id);
      ctx.events.log(`would run backfill ${m.path} from release ${g.release} in batches of ${cfg.batch}${p ? `, resuming after key ${p.last ?? '(none)'} (${progressWords(p)})` : ''}`, db.name);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface BackfillGroup {
  release: string;
  migrations: Migration[];
}

/**
 * What `ship migrate` runs: first backfills the ledger has started that `ref` lacks (a
 * deploy killed before its switch leaves its backfill running in a release that never
 * went live), each from the release that ran it while that release is still on the
 * host; then the pending backfills of `ref`.
 */
export async function backfillGroups(ctx: Ctx, db: HostRun, ref: string, refMigrations: Migration[], ledger: LedgerEntry[]): Promise<BackfillGroup[]> {
  const groups: BackfillGroup[] = [];
  const inRef = new Set(refMigrations.map((m) => m.id));
  for (const p of backfillProgress(ledger).values()) {
    if (p.state === 'done' || inRef.has(p.id)) continue;
    if (!db.dirs.includes(p.release)) {
      ctx.events.warn(`backfill ${p.file} is not done, and release ${p.release} that ran it is gone: deploy a release that holds it to resume`, db.name);
      continue;
    }
    const m = (await releaseMigrations(ctx, db, p.release)).find((x) => x.id === p.id && x.phase === 'backfill');
    if (m) groups.push({ release: p.release, migrations: [m] });
  }
  const own = pendingBackfills(refMigrations, ledger);
  if (own.length) groups.push({ release: ref, migrations: own });
  return groups;
}

/** Runs the groups in order; stops at the first one that a budget left unfinished. */
export async function runBackfillGroups(ctx: Ctx, db: HostRun, groups: BackfillGroup[], ledger: LedgerEntry[]): Promise<BackfillOutcome> {
  const out: BackfillOutcome = { done: [] };
  for (const g of groups) {
    const r = await runBackfills(ctx, db, g.release, g.migrations, ledger);
    out.done.push(...r.done);
    if (r.unfinished) return { ...out, unfinished: r.unfinished };
  }
  return out;
}

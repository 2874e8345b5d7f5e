import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import type { Ctx } from '../context.js';
import { ShipError, UsageError } from '../errors.js';
import { pendingBackfills, progressWords } from '../migrations/backfill.js';
import { compareIds } from '../migrations/discovery.js';
import { backfillGroups, previewBackfillGroups, runBackfillGroups } from '../migrations/backfill-run.js';
import { pendingContracts, pendingExpands, statusRows, type MigrationRow } from '../migrations/plan.js';
import { assertUnchanged, contractBatch, hostMigrations, previewMigrations, readLedger, releaseMigrations, runMigrations, stageView } from '../migrations/remote.js';
import { fmtMs } from '../reporters/format.js';
import { connect } from '../steps/connect.js';
import { lock } from '../steps/lock.js';
import type { Step } from '../steps/types.js';

export interface MigrateOptions extends CommandOptions {
  contract?: boolean;
  status?: boolean;
  backfill?: boolean;
}

/**
 * `ship migrate <stage>`: pending expand migrations of the staged (`next`) release, else
 * of the current one, on the migration host. `--contract`: the contract migrations that
 * are runnable now. `--backfill`: only the backfills, run or resumed in batches (plain
 * `ship migrate` runs them after the expands). `--status`: applied and pending, backfill
 * progress, and why pending ones cannot run yet. `--dry-run`: what would run.
 */
export async function migrate(o: MigrateOptions, print: Printer): Promise<CommandResult> {
  if (o.status) return runCommand('migrate', o, [connect], async (ctx) => print(...(await statusOf(ctx))));
  if (o.contract && o.backfill) throw new UsageError('--contract and --backfill exclude each other: run the backfill first, then the contract');
  const step = o.contract ? contractStep : o.backfill ? backfillStep : expandStep;
  return runCommand('migrate', o, [connect, lock, step]);
}

const expandStep = {
  name: 'migrate',
  description: 'run pending expand migrations',
  preview: (ctx, hosts): Promise<void> => expandStep.run(ctx, hosts, true),
  async run(ctx, _hosts, preview = false) {
    const view = await stageView(ctx, false);
    try {
      const db = view.db;
      const ref = db.nextId ?? db.currentId;
      if (!ref) throw new ShipError(`${db.name}: no release is deployed (no current, no next): nothing to migrate`, { host: db.name, reason: 'no-release' });
      const migrations = await releaseMigrations(ctx, db, ref);
      const ledger = await readLedger(db);
      assertUnchanged(db, migrations, ledger, ref);
      const todo = pendingExpands(migrations, ledger);
      const backfills = await backfillGroups(ctx, db, ref, migrations, ledger);
      if (!todo.length && !backfills.length) {
        ctx.events.log(`no pending expand migrations in release ${ref}`, db.name);
        return;
      }
      if (preview) {
        previewMigrations(ctx, db, [{ release: ref, migrations: todo }]);
        previewBackfillGroups(ctx, db, backfills, ledger);
        return;
      }
      await runMigrations(ctx, db, [{ release: ref, migrations: todo }], ref);
      if (backfills.length) await runBackfillGroups(ctx, db, backfills, await readLedger(db));
    } finally {
      await view.close();
    }
  },
} satisfies Step;

const backfillStep = {
  name: 'backfill',
  description: 'run or resume the backfill migrations in batches',
  preview: (ctx, hosts): Promise<void> => backfillStep.run(ctx, hosts, true),
  async run(ctx, _hosts, preview = false) {
    const view = await stageView(ctx, false);
    try {
      const db = view.db;
      const ref = db.nextId ?? db.currentId;
      if (!ref) throw new ShipError(`${db.name}: no release is deployed (no current, no next): nothing to backfill`, { host: db.name, reason: 'no-release' });
      const migrations = await releaseMigrations(ctx, db, ref);
      const ledger = await readLedger(db);
      const expands = pendingExpands(migrations, ledger);
      const groups = await backfillGroups(ctx, db, ref, migrations, ledger);
      if (!groups.length) {
        ctx.events.log(`no pending backfills in release ${ref}`, db.name);
        return;
      }
      const todo = pendingBackfills(migrations, ledger);
      const early = expands.filter((e) => todo.some((b) => compareIds(e.id, b.id) < 0));
      if (early.length) {
        throw new ShipError(`${db.name}: expand migration${early.length > 1 ? 's' : ''} ${early.map((m) => m.file).join(', ')} of release ${ref} not applied yet: a backfill runs after the expands`, {
          host: db.name,
          reason: 'migrations',
          hint: `run ship migrate ${ctx.stage.name} (expands, then backfills)`,
        });
      }
      if (preview) previewBackfillGroups(ctx, db, groups, ledger);
      else await runBackfillGroups(ctx, db, groups, ledger);
    } finally {
      await view.close();
    }
  },
} satisfies Step;

const contractStep = {
  name: 'migrate',
  description: 'run the contract migrations every live release holds',
  preview: (ctx, hosts): Promise<void> => contractStep.run(ctx, hosts, true),
  async run(ctx, _hosts, preview = false) {
    const view = await stageView(ctx, true);
    try {
      const db = view.db;
      const ledger = await readLedger(db);
      const pending = pendingContracts(await hostMigrations(ctx, view.all, view.unreachable), ledger);
      if (!pending.length) {
        ctx.events.log('no contract migrations pending', db.name);
        return;
      }
      const runnable = pending.filter((c) => c.runnable);
      const waiting = pending.filter((c) => !c.runnable);
      if (!runnable.length) {
        const hostsHold = waiting.some((c) => c.blockedBy.length);
        const backfillsHold = waiting.some((c) => c.backfills.length);
        const hints = [
          ...(backfillsHold ? [`finish the backfill first: ship migrate ${ctx.stage.name} --backfill`] : []),
          ...(hostsHold ? [`deploy a release that holds ${pending.length > 1 ? 'them' : 'it'} to every host first`] : []),
        ];
        throw new ShipError(
          `${pending.length} contract migration${pending.length > 1 ? 's' : ''} pending, none runnable yet: ${waiting.map((c) => `${c.file} (${c.reason})`).join('; ')}`,
          { reason: 'contract-not-runnable', hint: hints.join('; ') },
        );
      }
      for (const c of waiting) ctx.events.warn(`not yet: ${c.file} (${c.reason})`);
      const batch = await contractBatch(ctx, view, ledger, pending);
      if (batch && preview) previewMigrations(ctx, db, [batch]);
      else if (batch) await runMigrations(ctx, db, [batch], batch.release);
    } finally {
      await view.close();
    }
  },
} satisfies Step;

/** Rows for --status and their text. */
async function statusOf(ctx: Ctx): Promise<[MigrationRow[], string]> {
  const view = await stageView(ctx, true);
  try {
    const db = view.db;
    const ledger = await readLedger(db);
    const ref = db.nextId ?? db.currentId;
    const refMigrations = ref ? await releaseMigrations(ctx, db, ref) : [];
    const contracts = pendingContracts(await hostMigrations(ctx, view.all, view.unreachable), ledger);
    const rows = statusRows(ledger, ref ? { release: ref, migrations: refMigrations } : undefined, contracts);
    return [rows, statusText(rows, db.name, ref)];
  } finally {
    await view.close();
  }
}

export function statusText(rows: MigrationRow[], dbHost: string, ref: string | undefined): string {
  const out: string[] = [`migration host ${dbHost}${ref ? `, release ${ref}` : ''}`];
  const section = (title: string, list: MigrationRow[], line: (r: MigrationRow) => string) => {
    out.push(`${title}:`);
    if (!list.length) out.push('  (none)');
    for (const r of list) out.push(`  ${line(r)}`);
  };
  const applied = rows.filter((r) => r.state === 'applied');
  section('applied', applied, (r) =>
    `${r.file.padEnd(36)} ${r.phase.padEnd(8)} ${r.time ?? ''}  ${fmtMs(r.duration ?? 0)}  from ${r.release}${r.changed ? '  CHANGED since it ran' : ''}${r.phase === 'backfill' && r.batches !== undefined ? `  (${r.batches} batches, ${r.rows ?? 0} rows)` : ''}`,
  );
  section('pending expand', rows.filter((r) => r.state === 'pending' && r.phase === 'expand'), (r) => `${r.file.padEnd(36)} runs with: ship migrate (or the next deploy)`);
  const backfills = rows.filter((r) => r.phase === 'backfill' && r.state !== 'applied');
  // Only when there is one: a stage without backfills reads as it always did.
  if (backfills.length) section('backfill', backfills, (r) =>
    r.state === 'running'
      ? `${r.file.padEnd(36)} running  ${progressWords({ batches: r.batches ?? 0, rows: r.rows ?? 0, last: r.last, remaining: r.remaining })}, ${fmtMs(r.duration ?? 0)} so far; resumes with: ship migrate --backfill (or the next deploy)`
      : `${r.file.padEnd(36)} not started; runs with: ship migrate --backfill (or the next deploy)`,
  );
  section('pending contract', rows.filter((r) => r.state === 'pending' && r.phase === 'contract'), (r) =>
    `${r.file.padEnd(36)} ${r.runnable ? 'runnable now: ship migrate --contract' : `not yet: ${r.reason}`}`,
  );
  return out.join('\n');
}

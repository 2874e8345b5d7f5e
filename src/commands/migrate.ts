import { runCommand, type CommandOptions, type CommandResult } from '../api.js';
import type { Printer } from '../cli.js';
import type { Ctx } from '../context.js';
import { ShipError } from '../errors.js';
import { checksumMismatches, describeMismatch, pendingContracts, pendingExpands, statusRows, type MigrationRow } from '../migrations/plan.js';
import { hostMigrations, readLedger, releaseMigrations, runMigrations, stageView } from '../migrations/remote.js';
import { fmtMs } from '../reporters/format.js';
import { connect } from '../steps/connect.js';
import { lock } from '../steps/lock.js';
import type { Step } from '../steps/types.js';

export interface MigrateOptions extends CommandOptions {
  contract?: boolean;
  status?: boolean;
}

/**
 * `ship migrate <stage>`: pending expand migrations of the staged (`next`) release, else
 * of the current one, on the migration host. `--contract`: the contract migrations that
 * are runnable now. `--status`: applied and pending, and why pending ones cannot run yet.
 * `--dry-run`: what would run.
 */
export async function migrate(o: MigrateOptions, print: Printer): Promise<CommandResult> {
  if (o.status) return runCommand('migrate', o, [connect], async (ctx) => print(...(await statusOf(ctx))));
  const step = o.contract ? contractStep : expandStep;
  return runCommand('migrate', o, o.dryRun ? [connect, step] : [connect, lock, step]);
}

const expandStep: Step = {
  name: 'migrate',
  description: 'run pending expand migrations',
  async run(ctx) {
    const view = await stageView(ctx, false);
    try {
      const db = view.db;
      const ref = db.nextId ?? db.currentId;
      if (!ref) throw new ShipError(`${db.name}: no release is deployed (no current, no next): nothing to migrate`, { host: db.name, reason: 'no-release' });
      const migrations = await releaseMigrations(ctx, db, ref);
      const ledger = await readLedger(db);
      const changed = checksumMismatches(migrations, ledger, ref);
      if (changed.length) throw new ShipError(`${db.name}: applied migration changed, nothing was migrated: ${changed.map(describeMismatch).join('; ')}`, { host: db.name, reason: 'migration-changed' });
      const todo = pendingExpands(migrations, ledger);
      if (!todo.length) {
        ctx.events.log(`no pending expand migrations in release ${ref}`, db.name);
        return;
      }
      await runMigrations(ctx, db, [{ release: ref, migrations: todo }], ref);
    } finally {
      await view.close();
    }
  },
};

const contractStep: Step = {
  name: 'migrate',
  description: 'run the contract migrations every live release holds',
  async run(ctx) {
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
        throw new ShipError(
          `${pending.length} contract migration${pending.length > 1 ? 's' : ''} pending, none runnable yet: ${waiting.map((c) => `${c.file} (${c.reason})`).join('; ')}`,
          { reason: 'contract-not-runnable', hint: `deploy a release that holds ${pending.length > 1 ? 'them' : 'it'} to every host first` },
        );
      }
      for (const c of waiting) ctx.events.warn(`not yet: ${c.file} (${c.reason})`);
      const cur = await releaseMigrations(ctx, db, db.currentId!);
      const changed = checksumMismatches(cur, ledger, db.currentId!);
      if (changed.length) throw new ShipError(`${db.name}: applied migration changed, nothing was migrated: ${changed.map(describeMismatch).join('; ')}`, { host: db.name, reason: 'migration-changed' });
      await runMigrations(ctx, db, [{ release: db.currentId!, migrations: cur.filter((m) => runnable.some((c) => c.id === m.id)) }], db.currentId!);
    } finally {
      await view.close();
    }
  },
};

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
  section('applied', applied, (r) => `${r.file.padEnd(36)} ${r.phase.padEnd(8)} ${r.time ?? ''}  ${fmtMs(r.duration ?? 0)}  from ${r.release}${r.changed ? '  CHANGED since it ran' : ''}`);
  section('pending expand', rows.filter((r) => r.state === 'pending' && r.phase === 'expand'), (r) => `${r.file.padEnd(36)} runs with: ship migrate (or the next deploy)`);
  section('pending contract', rows.filter((r) => r.state === 'pending' && r.phase === 'contract'), (r) =>
    `${r.file.padEnd(36)} ${r.runnable ? 'runnable now: ship migrate --contract' : `not yet: ${r.reason}`}`,
  );
  return out.join('\n');
}

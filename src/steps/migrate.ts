import { ShipError, InternalError } from '../errors.js';
import { discover, type ListedFile, type Migration } from '../migrations/discovery.js';
import { pendingBackfills } from '../migrations/backfill.js';
import { backfillGroups, previewBackfillGroups, runBackfillGroups } from '../migrations/backfill-run.js';
import { pendingExpands } from '../migrations/plan.js';
import { assertUnchanged, contractBatch, previewMigrations, readLedger, releaseMigrations, runMigrations, stageView, type MigrationBatch } from '../migrations/remote.js';
import type { Ctx } from '../context.js';
import type { Step } from './types.js';

/**
 * Runs pending expand migrations on the migration host, after publish and before the
 * switch (README, Migrations). Under `migrations.contract: next-deploy` it first runs the contract
 * migrations that are runnable (every host's current release holds them): those
 * shipped by earlier deploys, never the ones this deploy ships, since no host runs this
 * release yet. A changed applied migration stops everything before anything runs.
 * Then, unless `migrations.backfill.mode` is `after-switch`, the release's backfills run
 * (or resume) in batches, still before the switch.
 */
export const migrate = {
  name: 'migrate',
  description: 'run pending expand migrations',
  /** Lists what would run, from the build (nothing is published) and the ledger; runs nothing. */
  preview: (ctx, hosts): Promise<void> => migrate.run(ctx, hosts, true),
  async run(ctx, _hosts, preview = false) {
    const id = ctx.release;
    if (!id) throw new InternalError('migrate without a release');
    const nextDeploy = ctx.stage.migrations.contract === 'next-deploy';
    if (!nextDeploy && ctx.build && !hasMigrationFiles(ctx)) {
      // Nothing this release could run, and no earlier contract to look for: no host is asked.
      ctx.events.debug('no migrations in the build');
      return;
    }
    const view = await stageView(ctx, nextDeploy);
    try {
      const db = view.db;
      // The new release's files: on the migration host, or (a preview: nothing published) the build.
      const fromHost = view.dbInRun && !preview;
      const migrations = fromHost ? await releaseMigrations(ctx, db, id) : buildMigrations(ctx);
      const ledger = await readLedger(db);
      assertUnchanged(db, migrations, ledger, id);
      const batches: MigrationBatch[] = [];
      const contracts = nextDeploy ? await contractBatch(ctx, view, ledger) : undefined;
      if (contracts) batches.push(contracts);
      const expands = pendingExpands(migrations, ledger);
      batches.push({ release: id, migrations: expands });
      const backfills = ctx.stage.migrations.backfill.mode === 'before-switch' && view.dbInRun ? await backfillGroups(ctx, db, id, migrations, ledger) : [];
      const count = batches.reduce((n, b) => n + b.migrations.length, 0) + backfills.reduce((n, g) => n + g.migrations.length, 0);
      if (!view.dbInRun && ctx.stage.migrations.backfill.mode === 'before-switch' && pendingBackfills(migrations, ledger).length) {
        ctx.events.warn(`backfills are pending, but the migration host ${db.name} is not part of this run: they run with ship migrate ${ctx.stage.name} --backfill or the next deploy that includes it`);
      }
      if (!count) {
        ctx.events.debug('no pending migrations', db.name);
        return;
      }
      if (preview) {
        previewMigrations(ctx, db, batches);
        previewBackfillGroups(ctx, db, backfills, ledger);
        return;
      }
      if (!view.dbInRun) {
        throw new ShipError(`the migration host ${db.name} is not part of this run, and ${count} migration${count > 1 ? 's are' : ' is'} pending`, {
          host: db.name,
          reason: 'migration-host',
          hint: `include ${db.name} in --hosts/--roles (it is the first host with role db, else the first host)`,
        });
      }
      await runMigrations(ctx, db, batches, id);
      if (backfills.length) await runBackfillGroups(ctx, db, backfills, await readLedger(db));
    } finally {
      await view.close();
    }
  },
} satisfies Step;

function migrationsDir(ctx: Ctx): string {
  return ctx.stage.migrations.dir.replace(/\/+$/, '');
}

/** Whether the build holds anything in the migrations directory. */
function hasMigrationFiles(ctx: Ctx): boolean {
  const dir = migrationsDir(ctx);
  const within = (p: string) => p.startsWith(`${dir}/`) || dir.startsWith(`${p}/`) || p === dir;
  // A symlink on the way (the directory itself, or one of its parents) may lead to migrations.
  return ctx.build!.files.some((f) => within(f.path)) || ctx.build!.links.some((l) => within(l.path));
}

/** The new release's migrations as the build has them (a dry run publishes nothing). */
function buildMigrations(ctx: Ctx): Migration[] {
  const dir = migrationsDir(ctx);
  const files: ListedFile[] = (ctx.build?.files ?? [])
    .filter((f) => f.path.startsWith(`${dir}/`) && !f.path.slice(dir.length + 1).includes('/'))
    .map((f) => ({ file: f.path.slice(dir.length + 1), sha256: f.sha256, executable: (f.mode & 0o111) !== 0 }));
  const d = discover(files, dir);
  if (d.problems.length) throw new ShipError(`the build has misnamed migrations:\n${d.problems.map((p) => `    ${p}`).join('\n')}`, { reason: 'migrations' });
  return d.migrations;
}

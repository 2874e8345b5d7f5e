import { backfillGroups, runBackfillGroups } from '../migrations/backfill-run.js';
import { readLedger, releaseMigrations, stageView } from '../migrations/remote.js';
import type { Step } from './types.js';

/**
 * `migrations.backfill.mode: after-switch`: the backfills of the migration host's current
 * release run (or resume) after the rollout, before any after-switch contract. The new
 * code must cope with half-moved data meanwhile (a dual-write trigger's job). Any other
 * mode: nothing (the migrate step ran them before the switch).
 */
export const backfill: Step = {
  name: 'backfill',
  description: 'run backfill migrations in batches (after-switch)',
  async run(ctx) {
    if (ctx.stage.migrations.backfill.mode !== 'after-switch') return;
    const view = await stageView(ctx, false);
    try {
      const db = view.db;
      if (!db.currentId) return;
      const ledger = await readLedger(db);
      const groups = await backfillGroups(ctx, db, db.currentId, await releaseMigrations(ctx, db, db.currentId), ledger);
      if (!groups.length) return;
      if (!view.dbInRun) {
        ctx.events.warn(`backfills ${groups.flatMap((g) => g.migrations.map((m) => m.file)).join(', ')} are pending, but the migration host ${db.name} is not part of this run: run ship migrate ${ctx.stage.name} --backfill`);
        return;
      }
      await runBackfillGroups(ctx, db, groups, ledger);
    } finally {
      await view.close();
    }
  },
  async preview() {},
};

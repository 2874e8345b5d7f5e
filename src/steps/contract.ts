import { contractBatch, readLedger, runMigrations, stageView } from '../migrations/remote.js';
import type { Step } from './types.js';

/**
 * `migrations.contract: after-switch`: once every host of the stage runs a release that
 * holds a pending contract migration (so after the whole rollout passed its health
 * checks), it runs in the same deploy, from the migration host's current release.
 * Any other policy: nothing. A paused canary never reaches this step; `ship switch`
 * does once it has put every host on the release.
 */
export const contract: Step = {
  name: 'contract',
  description: 'run contract migrations that every live release now holds (after-switch)',
  skip: (ctx) => (ctx.stage.migrations.contract === 'after-switch' ? undefined : 'not configured'),
  async run(ctx) {
    if (ctx.stage.migrations.contract !== 'after-switch') return;
    const view = await stageView(ctx, true);
    try {
      const db = view.db;
      const ledger = await readLedger(db);
      const batch = await contractBatch(ctx, view, ledger);
      if (!batch) return;
      if (!view.dbInRun) {
        ctx.events.warn(`contract migrations ${batch.migrations.map((m) => m.file).join(', ')} are runnable, but the migration host ${db.name} is not part of this run: run ship migrate ${ctx.stage.name} --contract`);
        return;
      }
      await runMigrations(ctx, db, [batch], batch.release);
    } finally {
      await view.close();
    }
  },
  async preview() {},
};

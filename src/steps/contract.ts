import { pendingContracts } from '../migrations/plan.js';
import { hostMigrations, readLedger, releaseMigrations, runMigrations, stageView } from '../migrations/remote.js';
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
      const runnable = pendingContracts(await hostMigrations(ctx, view.all, view.unreachable), ledger).filter((c) => c.runnable);
      if (!runnable.length || !db.currentId) return;
      if (!view.dbInRun) {
        ctx.events.warn(`contract migrations ${runnable.map((c) => c.file).join(', ')} are runnable, but the migration host ${db.name} is not part of this run: run ship migrate ${ctx.stage.name} --contract`);
        return;
      }
      const cur = await releaseMigrations(ctx, db, db.currentId);
      await runMigrations(ctx, db, [{ release: db.currentId, migrations: cur.filter((m) => runnable.some((c) => c.id === m.id)) }], db.currentId);
    } finally {
      await view.close();
    }
  },
  async preview() {},
};

import type { Ctx, HostRun } from '../context.js';
import { ShipError } from '../errors.js';
import { contractsMissingFrom } from './plan.js';
import { readLedger, releaseMigrations, stageView } from './remote.js';

/**
 * The rollback guard (README, Migrations): going back to a release that lacks an applied contract
 * migration would run code written for a column or table that no longer exists. Refused,
 * naming the migration, unless --force.
 */
export async function guardRollback(ctx: Ctx, hosts: HostRun[], target: string): Promise<void> {
  const view = await stageView(ctx, false);
  try {
    const ledger = await readLedger(view.db);
    if (!ledger.some((e) => e.phase === 'contract')) return;
    const moving = hosts.filter((h) => h.currentId !== target);
    const missing = new Map<string, string[]>();
    for (const h of moving) {
      for (const e of contractsMissingFrom(ledger, await releaseMigrations(ctx, h, target))) {
        missing.set(e.file, [...(missing.get(e.file) ?? []), h.name]);
      }
    }
    if (!missing.size) return;
    const files = [...missing.keys()];
    if (ctx.opts.force) {
      ctx.events.warn(`--force: rolling back to ${target}, which lacks the applied contract migration${files.length > 1 ? 's' : ''} ${files.join(', ')}`);
      return;
    }
    throw new ShipError(
      `rollback to ${target} refused: it lacks the applied contract migration${files.length > 1 ? 's' : ''} ${files.join(', ')} (the schema no longer fits its code)`,
      { reason: 'contract-applied', hint: `roll forward instead, or pass --force if that release copes with the current schema` },
    );
  } finally {
    await view.close();
  }
}

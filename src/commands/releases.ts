import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { forEachHost } from '../context.js';
import { clearable, describeBeat, describeLock, readLock, removeIfOurs } from '../lock.js';
import { LockedError, ShipError } from '../errors.js';
import { sh } from '../shell.js';
import { parseTimestampId } from '../paths.js';
import { planPrune, pruneHost } from '../prune.js';
import { fmtAge } from '../reporters/format.js';
import type { Step } from '../steps/types.js';
import { connect } from '../steps/connect.js';
import { lock } from '../steps/lock.js';
import { hostReleases } from '../releases.js';

export interface ReleaseRow {
  host: string;
  id: string;
  state: string;
  current: boolean;
  revision: string | null;
  createdAt: string | null;
}

/** `ship releases`: per host, every release with its state (JSON: one object per line). */
export async function releases(o: CommandOptions, print: Printer): Promise<CommandResult> {
  return runCommand('releases', o, [connect], async (ctx) => {
    const rows: ReleaseRow[] = ctx.hosts.flatMap((h) =>
      hostReleases(h).map((r) => ({
        host: h.name,
        id: r.id,
        state: r.state,
        current: r.current,
        revision: r.revision ?? null,
        createdAt: r.createdAt ?? (isNaN(parseTimestampId(r.id).getTime()) ? null : parseTimestampId(r.id).toISOString()),
      })),
    );
    print(rows, releasesTable(rows));
  });
}

export function releasesTable(rows: ReleaseRow[], now = Date.now()): string {
  const out: string[] = [];
  const hosts = [...new Set(rows.map((r) => r.host))];
  for (const host of hosts) {
    out.push(`${host}`);
    const mine = rows.filter((r) => r.host === host);
    if (!mine.length) out.push('  (no releases)');
    for (const r of [...mine].reverse()) {
      const age = r.createdAt ? fmtAge(r.createdAt, now) : '';
      out.push(`  ${r.current ? '*' : ' '} ${r.id.padEnd(16)} ${r.state.padEnd(11)} ${age.padEnd(34)} ${r.revision ? r.revision.slice(0, 12) : ''}`.trimEnd());
    }
  }
  return out.join('\n');
}

const unlockStep: Step = {
  name: 'unlock',
  description: 'remove the lock on every host',
  async run(ctx, hosts) {
    await forEachHost(ctx, 'unlock', hosts, async (h) => {
      const held = await readLock(h, ctx.stage.lock.staleAfterMs);
      if (!held) return 'not locked';
      const holder = `${describeLock(held)}, ${describeBeat(held)}`;
      if (!clearable(held) && !ctx.opts.force) {
        throw new LockedError(h.name, holder, {
          message: `${h.name}: the lock of ${holder} is live: not removed`,
          hint: `wait for that run; only if you know it is gone: ship unlock ${ctx.stage.name} --force`,
        });
      }
      // Removes that very lock only: one a run took meanwhile stays.
      const r = await h.t.exec(held.token ? removeIfOurs(h.paths.lock, held.token) : sh`rm -f -- ${h.paths.lock}`);
      if (r.code === 3) throw new LockedError(h.name, 'another run', { message: `${h.name}: the lock changed hands while unlocking: not removed` });
      if (r.code !== 0 && r.code !== 4) throw new ShipError(`${h.name}: cannot remove ${h.paths.lock}: ${r.stderr.trim() || `exit ${r.code}`}`, { host: h.name });
      ctx.events.log(`removed the ${held.dead ? 'dead' : held.stale ? 'stale' : 'live'} lock of ${holder}`, h.name);
      return 'unlocked';
    });
  },
};

/** `ship unlock [--force]`: clears stale and dead locks (a live one only with --force). */
export function unlock(o: CommandOptions): Promise<CommandResult> {
  return runCommand('unlock', o, [connect, unlockStep]);
}

const pruneStep: Step = {
  name: 'prune',
  description: 'remove old releases',
  async run(ctx, hosts) {
    const keep = ctx.opts.keep ?? ctx.stage.keepReleases;
    await forEachHost(ctx, 'prune', hosts, async (h) => {
      const removed = await pruneHost(ctx, h, keep);
      ctx.pruned[h.name] = removed;
      return removed.length ? `removed ${removed.join(' ')}` : 'nothing to remove';
    });
  },
  async preview(ctx, hosts) {
    const keep = ctx.opts.keep ?? ctx.stage.keepReleases;
    await forEachHost(ctx, 'prune', hosts, async (h) => {
      const { doomed } = await planPrune(h, keep);
      return doomed.length ? `would remove ${doomed.join(' ')}` : 'nothing to remove';
    });
  },
};

/** `ship prune [--keep N]`. */
export function prune(o: CommandOptions): Promise<CommandResult> {
  return runCommand('prune', o, [connect, lock, pruneStep]);
}

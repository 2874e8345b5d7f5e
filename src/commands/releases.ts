import { runCommand, type CommandOptions, type CommandResult } from '../api.js';
import { forEachHost } from '../context.js';
import { describeLock, readLock } from '../lock.js';
import { parseTimestampId } from '../paths.js';
import { pruneHost } from '../prune.js';
import { fmtAge } from '../reporters/format.js';
import type { Step } from '../steps/types.js';
import { connect } from '../steps/connect.js';
import { lock } from '../steps/lock.js';

export interface ReleaseRow {
  host: string;
  id: string;
  state: string;
  current: boolean;
  revision: string | null;
  createdAt: string | null;
}

/** `ship releases`: per host, every release with its state (JSON: one object per line). */
export async function releases(o: CommandOptions, print: (rows: ReleaseRow[]) => void): Promise<CommandResult> {
  return runCommand('releases', o, [connect], async (ctx) => {
    const rows: ReleaseRow[] = ctx.hosts.flatMap((h) =>
      h.infos.map((r) => ({
        host: h.name,
        id: r.id,
        state: r.state,
        current: r.current,
        revision: r.revision ?? null,
        createdAt: r.createdAt ?? (isNaN(parseTimestampId(r.id).getTime()) ? null : parseTimestampId(r.id).toISOString()),
      })),
    );
    print(rows);
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
      const held = await readLock(h);
      if (!held) return 'not locked';
      await h.t.remove(h.paths.lock);
      ctx.events.log(`removed the lock of ${describeLock(held)}`, h.name);
      return 'unlocked';
    });
  },
};

/** `ship unlock`: clears locks left by a killed run. */
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
};

/** `ship prune [--keep N]`. */
export function prune(o: CommandOptions): Promise<CommandResult> {
  return runCommand('prune', o, [connect, lock, pruneStep]);
}

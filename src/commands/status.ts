import { loadStage, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { newCtx, type HostRun } from '../context.js';
import { ConnectError, toShipError, type ShipError } from '../errors.js';
import { Events } from '../events.js';
import { publicLock, readLock } from '../lock.js';
import { migrationHostOf, pendingContracts, type ContractState } from '../migrations/plan.js';
import { connectHost, openHosts } from '../hosts.js';
import { hostMigrations, readLedger } from '../migrations/remote.js';

export interface StatusRow {
  host: string;
  reachable: boolean;
  current: string | null;
  next: string | null;
  lock: ReturnType<typeof publicLock> | null;
  /** Contract migrations pending for the stage (null: the migration host could not be read). */
  pendingContracts: { id: string; file: string; runnable: boolean }[] | null;
  /** Pending contracts this host's current release lacks: it holds them back. */
  blocking: string[];
  migrationHost: boolean;
  error?: string;
}

/**
 * `ship status <stage>`: per host the current and next release, the lock holder, and
 * the pending contract migrations. Reads only. Exits 0 whatever it finds on the hosts
 * it reached, 4 when one could not be reached (docs/architecture.md, Exit codes).
 */
export async function status(o: CommandOptions, print: Printer): Promise<CommandResult> {
  const events = o.events ?? new Events();
  const stage = await loadStage(o);
  const ctx = newCtx('status', stage, events, o);
  const t0 = Date.now();
  const hosts: HostRun[] = [];
  const failures = new Map<string, ShipError>();
  try {
    hosts.push(...(await openHosts(ctx)));
    ctx.hosts = hosts;
    await Promise.all(
      hosts.map((h) =>
        connectHost(h).catch((e) => {
          const err = toShipError(e);
          failures.set(h.name, err instanceof ConnectError ? err : new ConnectError(h.name, err.message.replace(`${h.name}: `, '')));
        }),
      ),
    );
    const reached = hosts.filter((h) => !failures.has(h.name));
    const locks = new Map(await Promise.all(reached.map(async (h) => [h.name, await readLock(h, ctx.stage.lock.staleAfterMs).catch(() => undefined)] as const)));
    const db = migrationHostOf(hosts.map((h) => ({ ...h, roles: h.cfg.roles })));
    let contracts: ContractState[] | null = null;
    if (db && !failures.has(db.name)) {
      try {
        contracts = pendingContracts(await hostMigrations(ctx, reached, [...failures.keys()]), await readLedger(db));
      } catch (e) {
        events.warn(`pending migrations unknown: ${toShipError(e).message}`, db.name);
      }
    }
    const rows: StatusRow[] = hosts.map((h) => {
      const err = failures.get(h.name);
      const l = locks.get(h.name);
      return {
        host: h.name,
        reachable: !err,
        current: err ? null : (h.currentId ?? null),
        next: err ? null : (h.nextId ?? null),
        lock: l ? publicLock(l) : null,
        pendingContracts: contracts && !err ? contracts.map((c) => ({ id: c.id, file: c.file, runnable: c.runnable })) : contracts && null,
        blocking: contracts && !err ? contracts.filter((c) => c.blockedBy.includes(h.name)).map((c) => c.file) : [],
        migrationHost: h.name === db?.name,
        error: err?.message,
      };
    });
    print(rows, statusText(rows));
  } finally {
    await Promise.all(hosts.map((h) => h.t.close().catch(() => {})));
  }
  // Every unreachable host in one error, named by the first.
  const all = [...failures.values()];
  const joined = all.map((e) => e.message).join('; ');
  const first = `${all[0]?.host}: `;
  const worst = all.length > 1 ? new ConnectError(all[0].host!, joined.startsWith(first) ? joined.slice(first.length) : joined, { hint: all[0].hint }) : all[0];
  const exitCode = events.outcome({ command: 'status', stage: stage.name, error: worst, hosts: hosts.map((h) => h.name), ms: Date.now() - t0 });
  return { exitCode, error: worst };
}

export function statusText(rows: StatusRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(`${r.host}${r.migrationHost ? ' (migration host)' : ''}`);
    if (!r.reachable) {
      out.push(`  unreachable: ${r.error}`);
      continue;
    }
    out.push(`  current  ${r.current ?? '(none)'}`);
    if (r.next) out.push(`  next     ${r.next}`);
    out.push(`  lock     ${r.lock ? `${r.lock.holder}, ${r.lock.heartbeat}` : 'free'}`);
    if (r.pendingContracts === null) out.push('  contract migrations: unknown (migration host unreachable)');
    else if (!r.pendingContracts.length) out.push('  contract migrations: none pending');
    else {
      out.push(`  contract migrations pending: ${r.pendingContracts.map((c) => `${c.file}${c.runnable ? ' (runnable)' : ''}`).join(', ')}`);
      if (r.blocking.length) out.push(`  held back by this host (its current release lacks): ${r.blocking.join(', ')}`);
    }
  }
  return out.join('\n');
}

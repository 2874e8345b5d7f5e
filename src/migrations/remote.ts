/**
 * Migrations on the hosts: listing the migration files of releases (one command per
 * host), the ledger, the migration host, and running migrations there.
 */
import type { Ctx, HostRun } from '../context.js';
import { runUserCommand } from '../context.js';
import { ShipError } from '../errors.js';
import { record } from '../host-state.js';
import { connectHost, openHost } from '../hosts.js';
import { GOOD, hostReleases } from '../releases.js';
import { fmtMs } from '../reporters/format.js';
import { quote, sh } from '../shell.js';
import { batchCommand } from './backfill.js';
import { discover, type ListedFile, type Migration } from './discovery.js';
import { ledgerLine, parseLedger, type LedgerEntry } from './ledger.js';
import { checksumMismatches, describeMismatch, migrationHostOf, pendingContracts, type ContractState, type HostMigrations } from './plan.js';

/**
 * The migration files of each named release on a host: name, sha256, executable bit.
 * One command for all of them; releases without the dir get an empty list.
 */
export async function listReleaseFiles(h: HostRun, releases: string[], dir: string): Promise<Map<string, ListedFile[]>> {
  const out = new Map<string, ListedFile[]>(releases.map((r) => [r, []]));
  if (!releases.length) return out;
  const script = sh`cd ${h.paths.releases} || exit 1
for r in ${releases}; do
  d="$r"/${dir}
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    [ -f "$f" ] || continue
    x=-; [ -x "$f" ] && x=x
    s=$( (sha256sum || shasum -a 256) < "$f" 2>/dev/null) || { echo "cannot read $f" >&2; exit 1; }
    printf '%s %s %s %s\\n' "$r" "$x" "\${s%% *}" "\${f##*/}"
  done
done`;
  const r = await h.t.exec(script, { readOnly: true });
  if (r.code !== 0) {
    throw new ShipError(`${h.name}: could not list the migrations of ${releases.join(', ')}: ${(r.stderr || r.stdout).trim()}`, { host: h.name, reason: 'migrations' });
  }
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) ([x-]) ([0-9a-f]{64}) (.+)$/.exec(line);
    if (!m || !out.has(m[1])) continue;
    out.get(m[1])!.push({ file: m[4], sha256: m[3], executable: m[2] === 'x' });
  }
  return out;
}

/** The migrations of one release on a host, in id order; misnamed files are an error. */
export async function releaseMigrations(ctx: Ctx, h: HostRun, release: string): Promise<Migration[]> {
  const files = (await listReleaseFiles(h, [release], ctx.stage.migrations.dir)).get(release)!;
  return checked(h, release, discover(files, ctx.stage.migrations.dir));
}

function checked(h: HostRun, release: string, d: ReturnType<typeof discover>): Migration[] {
  if (d.problems.length) {
    throw new ShipError(`${h.name}: release ${release} has misnamed migrations:\n${d.problems.map((p) => `    ${p}`).join('\n')}`, {
      host: h.name,
      reason: 'migrations',
      hint: 'name them <id>_<name>.expand.<ext>, <id>_<name>.backfill.<ext> or <id>_<name>.contract.<ext>, each id once',
    });
  }
  return d.migrations;
}

/** What every host holds: its current release's migrations and those of its good releases. */
export async function hostMigrations(ctx: Ctx, hosts: HostRun[], unreachable: string[] = []): Promise<HostMigrations[]> {
  const dir = ctx.stage.migrations.dir;
  const gone: HostMigrations[] = unreachable.map((host) => ({ host, currentMigrations: [], releases: [], unreachable: true }));
  const reached = await Promise.all(
    hosts.map(async (h) => {
      const good = hostReleases(h).filter((r) => GOOD.has(r.state) || r.id === h.currentId).map((r) => r.id);
      const files = await listReleaseFiles(h, good, dir);
      const releases = good.map((id) => ({ id, migrations: discover(files.get(id) ?? [], dir).migrations }));
      const current = h.currentId ? releases.find((r) => r.id === h.currentId) : undefined;
      return { host: h.name, current: h.currentId, currentMigrations: current?.migrations ?? [], releases };
    }),
  );
  return [...reached, ...gone];
}

/** Migrations are forward-only: an applied migration whose file changed stops everything before anything runs. */
export function assertUnchanged(db: HostRun, migrations: Migration[], ledger: LedgerEntry[], release: string): void {
  const changed = checksumMismatches(migrations, ledger, release);
  if (!changed.length) return;
  throw new ShipError(`${db.name}: applied migration${changed.length > 1 ? 's' : ''} changed, nothing was migrated: ${changed.map(describeMismatch).join('; ')}`, {
    host: db.name,
    reason: 'migration-changed',
    hint: 'migrations are forward-only: restore the applied file and ship the change as a new migration',
  });
}

/**
 * The contract migrations that may run now (every live release holds them), taken from
 * the migration host's current release and checked against the ledger; undefined when
 * none is runnable. `pending` saves the hosts' listing when the caller has it already.
 */
export async function contractBatch(ctx: Ctx, view: StageView, ledger: LedgerEntry[], pending?: ContractState[]): Promise<MigrationBatch | undefined> {
  const db = view.db;
  const runnable = (pending ?? pendingContracts(await hostMigrations(ctx, view.all, view.unreachable), ledger)).filter((c) => c.runnable);
  if (!runnable.length || !db.currentId) return undefined;
  const cur = await releaseMigrations(ctx, db, db.currentId);
  assertUnchanged(db, cur, ledger, db.currentId);
  return { release: db.currentId, migrations: cur.filter((m) => runnable.some((c) => c.id === m.id)) };
}

export async function readLedger(h: HostRun): Promise<LedgerEntry[]> {
  const buf = await h.t.readFile(h.paths.ledger);
  return buf ? parseLedger(buf.toString('utf8')) : [];
}

export async function appendLedger(h: HostRun, e: LedgerEntry): Promise<void> {
  await h.t.mkdirp(h.paths.meta);
  await h.t.appendFile(h.paths.ledger, ledgerLine(e));
}

/**
 * Every host of the stage (a `--hosts` run sees only some) and the migration host.
 * Hosts outside the run are opened read-only; `close` closes them.
 */
export interface StageView {
  all: HostRun[];
  /** Hosts outside the run that could not be reached (never the migration host). */
  unreachable: string[];
  db: HostRun;
  /** The migration host is one of this run's (locked) hosts. */
  dbInRun: boolean;
  close(): Promise<void>;
}

export async function stageView(ctx: Ctx, needAll: boolean): Promise<StageView> {
  const cfgs = ctx.stage.allHosts;
  const dbCfg = migrationHostOf(cfgs)!;
  const inRun = new Map(ctx.hosts.map((h) => [h.name, h]));
  const extra: HostRun[] = [];
  const close = () => Promise.all(extra.map((h) => h.t.close().catch(() => {}))).then(() => {});
  try {
    const all: HostRun[] = [];
    const unreachable: string[] = [];
    for (const cfg of cfgs) {
      const mine = inRun.get(cfg.name);
      if (mine) {
        all.push(mine);
        continue;
      }
      if (!needAll && cfg.name !== dbCfg.name) continue;
      const h = await openHost(ctx, cfg);
      extra.push(h);
      try {
        await connectHost(h);
        all.push(h);
      } catch (e) {
        // The migration host must answer; another host outside the run only holds contracts back.
        if (cfg.name === dbCfg.name) throw e;
        ctx.events.warn(`not part of this run and unreachable, so it holds contract migrations back: ${(e as Error).message}`, cfg.name);
        unreachable.push(cfg.name);
      }
    }
    return { all, unreachable, db: all.find((h) => h.name === dbCfg.name)!, dbInRun: inRun.has(dbCfg.name), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The migrations of the batches in order, each with its release; one that nothing can run is an error. */
function runnableTodo(ctx: Ctx, db: HostRun, batches: MigrationBatch[]): { m: Migration; release: string }[] {
  const { run } = ctx.stage.migrations;
  const todo = batches.flatMap((b) => b.migrations.map((m) => ({ m, release: b.release })));
  const unrunnable = todo.filter(({ m }) => !m.executable && !run);
  if (unrunnable.length) {
    throw new ShipError(`${db.name}: no way to run ${unrunnable.map(({ m }) => m.path).join(', ')}: not executable, and migrations.run is not set`, {
      host: db.name,
      reason: 'migrations',
      hint: `set migrations.run (e.g. psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f {file}) or make the file executable`,
    });
  }
  return todo;
}

/** What runMigrations would run, said and not done (a dry run). */
export function previewMigrations(ctx: Ctx, db: HostRun, batches: MigrationBatch[]): void {
  for (const { m, release } of runnableTodo(ctx, db, batches)) ctx.events.log(`would run ${m.phase} migration ${m.path} from release ${release}`, db.name);
}

export interface MigrationBatch {
  /** The release whose files run (cwd). */
  release: string;
  migrations: Migration[];
}

/**
 * Runs migrations on the migration host, in the given order: first `migrations.backup`
 * (in `backupRelease`), then each migration with its release as cwd, recording each in
 * the ledger as it succeeds. The first failure stops the rest; what ran stays recorded.
 */
export async function runMigrations(ctx: Ctx, db: HostRun, batches: MigrationBatch[], backupRelease: string): Promise<number> {
  const { run, backup } = ctx.stage.migrations;
  const todo = runnableTodo(ctx, db, batches);
  if (!todo.length) return 0;
  const envOf = (release: string) => ({ SHIP_RELEASE: release, SHIP_RELEASE_PATH: db.paths.release(release) });
  if (backup) {
    const t0 = Date.now();
    ctx.events.log(`backup before ${todo.length} migration${todo.length > 1 ? 's' : ''}: ${backup}`, db.name);
    await runUserCommand(ctx, db, backup, `migrations.backup (${backup}); no migration ran`, db.paths.release(backupRelease), envOf(backupRelease));
    ctx.events.log(`backup done in ${fmtMs(Date.now() - t0)}`, db.name);
  }
  let n = 0;
  for (const { m, release } of todo) {
    if (ctx.interrupted) throw new ShipError('interrupted before migration ' + m.file, { reason: 'interrupted' });
    const command = batchCommand(run, m, ctx.stage.migrations.backfill.batch, quote);
    const t0 = Date.now();
    await runUserCommand(ctx, db, command, `${m.phase} migration ${m.id} (${m.path}, release ${release})`, db.paths.release(release), {
      ...envOf(release),
      SHIP_MIGRATION_ID: m.id,
      SHIP_MIGRATION_FILE: m.path,
      SHIP_MIGRATION_PHASE: m.phase,
    });
    const duration = Date.now() - t0;
    await appendLedger(db, {
      id: m.id,
      name: m.name,
      file: m.file,
      phase: m.phase,
      sha256: m.sha256,
      release,
      time: new Date().toISOString(),
      duration,
      host: db.name,
      user: ctx.user,
    });
    n++;
    await record(ctx, db, { action: 'migrate', release, message: `${m.phase} ${m.file}`, durationMs: duration }).catch((e) =>
      ctx.events.warn(`could not add migration ${m.file} to ${db.paths.history}: ${(e as Error).message}`, db.name),
    );
    ctx.events.log(`applied ${m.phase} migration ${m.file} (${fmtMs(duration)})`, db.name);
  }
  return n;
}

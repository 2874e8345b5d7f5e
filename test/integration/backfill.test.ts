/**
 * Backfill migrations on a real PostgreSQL (test/harness/postgres.ts) over real sshd hosts
 * (test/harness/sshd.ts), with an `address` table of a million rows. The builds are
 * fixtures/address-app/release-1 (writes `street`), backfill-2 (002 adds street_name,
 * house_number and the dual-write trigger; 003 fills the old rows in keyset batches) and
 * backfill-3 (adds 004, the contract that drops `street`).
 *
 * The figures (rows/s, batches, the longest statement the writing client saw, and the
 * same for one UPDATE over the whole table) are printed as `backfill figures: …` lines.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { cpSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { SshHost, SshHosts } from '../harness/sshd.js';
import { collect, ROOT, rmrf, ship, spawnShip, tmpDir, writeConfig } from '../harness/ship.js';
import { sharedSshHosts, sshBlock, sshHosts } from '../harness/stage.js';
import { startPostgres, type Postgres } from '../harness/postgres.js';
import { startSqlClient } from '../harness/sql-client.js';

const FIXTURE = path.join(ROOT, 'fixtures/address-app');
const RUN = 'psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v batch={batch} -v after={after} -f {file}';
/** A million; BACKFILL_ROWS=50000 makes a quick run of the same scenarios. */
const ROWS = Number(process.env.BACKFILL_ROWS ?? 1_000_000);
const BATCH = 5000;
/** Batches recorded before the kill: about a third of the way. */
const HALF = Math.floor(ROWS / BATCH / 3);

let ssh: SshHosts;
let pg: Postgres;
const dirs: string[] = [];
const test = suite('backfill migrations on postgres');
test.before(async () => {
  [ssh, pg] = await Promise.all([sharedSshHosts(), startPostgres()]);
});
test.after(async () => {
  dirs.forEach(rmrf);
  await pg?.stop();
});

type Line = Record<string, any>;
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;

function app(sub: string, hosts: number, migrations: Record<string, unknown>) {
  const dir = tmpDir('ship-bf-');
  dirs.push(dir);
  const url = pg.createDatabase(sub);
  const list = ssh.hosts.slice(0, hosts);
  const configure = (m: Record<string, unknown>) =>
    writeConfig(dir, {
      app: 'address',
      keepReleases: 10,
      ssh: sshBlock(ssh),
      stages: { test: { hosts: sshHosts(ssh, sub, hosts), build: { dir: 'build' }, env: { DATABASE_URL: url }, migrations: { run: RUN, ...m } } },
    });
  configure(migrations);
  const build = path.join(dir, 'build');
  const root = (h: SshHost) => path.join(h.deployRoot, sub);
  return {
    dir,
    url,
    hosts: list,
    configure,
    use(name: string) {
      rmrf(build);
      cpSync(path.join(FIXTURE, name), build, { recursive: true });
    },
    ship: (...args: string[]) => ship(args, { cwd: dir }),
    sql: (s: string) => pg.psql(url, s),
    ledger(): Line[] {
      const f = path.join(root(list[0]), '.ship/migrations.jsonl');
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    },
    columns: () => pg.psql(url, "select column_name from information_schema.columns where table_name = 'address' order by column_name").split('\n').filter(Boolean),
    current: (h: SshHost) => (existsSync(path.join(root(h), 'current/VERSION')) ? readFileSync(path.join(root(h), 'current/VERSION'), 'utf8').trim() : undefined),
  };
}
type App = ReturnType<typeof app>;

/** Release 1 live, its table filled with a million "Street <n> <number>" rows. */
async function millionRows(a: App): Promise<void> {
  a.use('release-1');
  const r = await a.ship('deploy', 'test');
  assert.is(r.code, 0, out(r));
  a.sql(`insert into address (street) select 'Street ' || g || ' ' || (g % 997 + 1) from generate_series(1, ${ROWS}) g`);
  a.sql('vacuum analyze address');
  assert.is(a.sql('select count(*) from address'), String(ROWS));
}

const backfillLines = (l: Line[]) => l.filter((e) => e.phase === 'backfill');
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Every row has both new columns, and they agree with `street` (the trigger and the backfill did the same). */
function assertFilled(a: App) {
  assert.is(a.sql('select count(*) from address where street_name is null or house_number is null'), '0', 'every row filled');
  assert.is(a.sql("select count(*) from address where street <> concat_ws(' ', street_name, house_number)"), '0', 'new columns agree with street');
}

test('a deploy backfills a million rows in batches of 5000 while a client writes through the old column: no statement waits 1 s, none fails', async () => {
  const a = app('bfload', 2, { backfill: { batch: BATCH, pause: '20ms' } });
  await millionRows(a);
  a.use('backfill-2');
  const client = startSqlClient(a.url, { maxId: ROWS, lockTimeout: '5s' });
  const t0 = Date.now();
  const r = await a.ship('deploy', 'test', '--json');
  const wall = Date.now() - t0;
  const c = await client.stop();
  assert.is(r.code, 0, out(r));
  for (const h of a.hosts) assert.is(a.current(h), '2');

  const bf = backfillLines(a.ledger());
  assert.ok(bf.length >= ROWS / BATCH, `at least ${ROWS / BATCH} batches (${bf.length})`);
  assert.equal(bf.map((e) => e.batch), bf.map((_, i) => i + 1), 'batches numbered 1..n, one ledger line each');
  assert.ok(bf.every((e) => e.rows <= BATCH), 'no batch touched more than 5000 rows');
  assert.ok(bf.slice(0, -1).every((e) => e.state === 'running') && bf.at(-1)!.state === 'done');
  assert.is(bf.at(-1)!.remaining, 0);
  const events = r.events.filter((e) => e.type === 'backfill');
  assert.is(events.length, bf.length, 'a backfill event per batch in --json');
  assert.is(events.at(-1)!.state, 'done');
  assert.ok(events.every((e) => e.host === 'host1' && e.file === '003_fill_street_parts.backfill.sql'));
  const steps = r.events.filter((e) => e.type === 'step' && !e.host && e.status === 'done').map((e) => e.step);
  assert.ok(r.events.findIndex((e) => e.type === 'backfill') < r.events.findIndex((e) => e.type === 'switch'), 'before the switch');
  assert.ok(steps.includes('migrate'));
  assertFilled(a);
  // The client: many statements, none failed, none waited a second.
  assert.ok(c.statements > 100, `the client kept writing (${c.statements} statements)`);
  assert.is(c.failures, 0, c.errors.join('\n'));
  assert.ok(c.maxMs < 1000, `longest client statement ${c.maxMs} ms (${c.slowest})`);
  const rows = sum(bf.map((e) => e.rows));
  const batchMs = sum(bf.map((e) => e.batchMs));
  console.log(
    `backfill figures: batched: ${bf.length} batches of ${BATCH}, ${rows} rows touched (the rest filled by the trigger), ` +
      `${Math.round((rows * 1000) / batchMs)} rows/s in batches (${Math.round((ROWS * 1000) / bf.at(-1)!.duration)} table rows/s), backfill ${bf.at(-1)!.duration} ms, deploy ${wall} ms; ` +
      `client: ${c.statements} statements (${c.inserts} inserts, ${c.updates} updates), ${c.failures} failed, longest ${c.maxMs} ms`,
  );
});

test('killed halfway (SIGKILL): the next ship migrate --backfill resumes from the recorded key; the contract waits for it, then runs', async () => {
  const a = app('bfkill', 1, { contract: 'after-switch', backfill: { batch: BATCH, pause: '0ms' } });
  await millionRows(a);
  a.use('backfill-2');
  const child = spawnShip(['deploy', 'test'], { cwd: a.dir });
  const done = collect(child, false);
  for (let i = 0; i < 1200 && child.exitCode === null; i++) {
    if (backfillLines(a.ledger()).length >= HALF) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await done;
  // The remote psql of the batch in flight may still be finishing: wait until no other session is left.
  for (let i = 0; i < 300 && a.sql('select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()') !== '0'; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const killed = backfillLines(a.ledger());
  assert.ok(killed.length >= HALF && killed.length < ROWS / BATCH, `killed halfway (${killed.length} batches recorded)`);
  assert.ok(killed.every((e) => e.state === 'running'));
  const recorded = sum(killed.map((e) => e.rows));
  const filled = Number(a.sql('select count(*) from address where street_name is not null'));
  // The batch in flight may have committed without its ledger line (killed between the
  // commit and the append): at most one batch more. Its redo must then touch nothing.
  assert.ok(filled === recorded || filled === recorded + BATCH, `filled ${filled}, recorded ${recorded}`);
  const unrecorded = filled - recorded;
  const lastKey = killed.at(-1)!.last;
  assert.is(lastKey, String(killed.length * BATCH), 'keys are contiguous: the last key is batches × 5000');

  // The killed run's heartbeat is still fresh: the operator who killed it forces the unlock.
  assert.is((await a.ship('unlock', 'test', '--force')).code, 0);
  const st = await a.ship('migrate', 'test', '--status', '--json');
  assert.is(st.code, 0, out(st));
  const row = st.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((x) => x.id === '003');
  assert.equal([row.phase, row.state, row.batches, row.rows, row.last], ['backfill', 'running', killed.length, recorded, lastKey]);

  // ship migrate --backfill (a few batches only): the killed deploy never switched, so the
  // backfill resumes from the release that ran it, after the recorded key.
  const more = Math.max(1, Math.floor(ROWS / BATCH / 10));
  a.configure({ contract: 'after-switch', backfill: { batch: BATCH, pause: '0ms', maxBatches: more } });
  const m1 = await a.ship('migrate', 'test', '--backfill', '--json');
  assert.is(m1.code, 0, out(m1));
  assert.match(m1.events.filter((e) => e.type === 'log').map((e) => e.message).join('\n'), `resuming backfill 003_fill_street_parts.backfill.sql after key ${lastKey}`);
  const afterM1 = backfillLines(a.ledger());
  assert.is(afterM1.length, killed.length + more);
  const resumed = afterM1[killed.length];
  assert.is(resumed.batch, killed.length + 1);
  assert.is(resumed.release, killed[0].release, 'from the release that ran it');
  assert.is(resumed.last, String((killed.length + 1) * BATCH), 'the first batch after the kill started after the recorded key');
  assert.is(a.current(a.hosts[0]), '1');

  // Release 3 everywhere, a few more batches only: after-switch would contract, but the backfill is not done.
  a.use('backfill-3');
  const d3 = await a.ship('deploy', 'test', '--json');
  assert.is(d3.code, 0, out(d3));
  assert.is(a.current(a.hosts[0]), '3');
  assert.ok(a.columns().includes('street'), 'the contract waits for the backfill');
  const after3 = backfillLines(a.ledger());
  assert.is(after3.length, killed.length + 2 * more);
  assert.is(after3.at(-1)!.last, String((killed.length + 2 * more) * BATCH), 'the deploy went on from there');
  assert.match(d3.events.filter((e) => e.type === 'log').map((e) => e.message).join('\n'), 'maxBatches');

  const early = await a.ship('migrate', 'test', '--contract');
  assert.is(early.code, 1, out(early));
  assert.match(early.stderr, '004_drop_street.contract.sql');
  assert.match(early.stderr, 'backfill 003_fill_street_parts.backfill.sql is not done');
  assert.match(early.stderr, 'ship migrate test --backfill');
  assert.ok(a.columns().includes('street'));
  const st2 = await a.ship('migrate', 'test', '--status');
  assert.is(st2.code, 0, out(st2));
  assert.match(st2.stdout, /003_fill_street_parts\.backfill\.sql\s+running/);
  assert.match(st2.stdout, /004_drop_street\.contract\.sql\s+not yet: backfill 003_fill_street_parts\.backfill\.sql is not done/);

  // Finished by ship migrate --backfill; nothing redone.
  a.configure({ contract: 'after-switch', backfill: { batch: BATCH, pause: '0ms' } });
  const fin = await a.ship('migrate', 'test', '--backfill');
  assert.is(fin.code, 0, out(fin));
  const bf = backfillLines(a.ledger());
  assert.is(bf.at(-1)!.state, 'done');
  assert.equal(bf.map((e) => e.batch), bf.map((_, i) => i + 1));
  assert.is(sum(bf.map((e) => e.rows)) + unrecorded, ROWS, 'the rows of the recorded batches (and the one committed unrecorded) add up to the table: none redone, none skipped');
  assert.is(bf.filter((e) => e.rows > 0).length, (ROWS - unrecorded) / BATCH);
  if (unrecorded) assert.is(bf[killed.length].rows, 0, 'the batch that committed unrecorded was run again over the same keys and touched nothing');
  assertFilled(a);
  const again = await a.ship('migrate', 'test', '--backfill');
  assert.is(again.code, 0);
  assert.is(backfillLines(a.ledger()).length, bf.length, 'a done backfill never runs again');

  const c = await a.ship('migrate', 'test', '--contract');
  assert.is(c.code, 0, out(c));
  assert.equal(a.columns(), ['house_number', 'id', 'street_name']);
  const st3 = await a.ship('migrate', 'test', '--status');
  console.log(`backfill figures: killed after ${killed.length} recorded batches (${unrecorded ? 'one more had committed unrecorded; its redo touched 0 rows' : 'no batch in the window'}); ${bf.length} ledger lines in all`);
  console.log(`backfill figures: status after the contract:\n${st3.stdout}`);
});

test('for comparison: one UPDATE over the million rows while the client writes (figures only)', async () => {
  const a = app('bfsingle', 1, {});
  await millionRows(a);
  a.sql(readFileSync(path.join(FIXTURE, 'backfill-2/migrations/002_split_street.expand.sql'), 'utf8'));
  const client = startSqlClient(a.url, { maxId: ROWS, lockTimeout: '120s' });
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  const u = await psqlAsync(a.url, "update address set street_name = regexp_replace(street, '\\s+\\S+$', ''), house_number = substring(street from '(\\S+)$') where street_name is null");
  const ms = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  const c = await client.stop();
  assert.is(u.status, 0, u.stderr);
  assertFilled(a);
  console.log(
    `backfill figures: single UPDATE: 1 statement, ${ms} ms, ${Math.round((ROWS * 1000) / ms)} rows/s; ` +
      `client: ${c.statements} statements, ${c.failures} failed, longest ${c.maxMs} ms (${c.slowest})`,
  );
});

/** psql -c, without blocking the event loop (the client runs in this process). */
function psqlAsync(url: string, sql: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stderr }));
  });
}

test.run();

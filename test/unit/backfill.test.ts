import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backfillProgress, backfillsBlocking, batchCommand, openBackfills, parseBatchOutput, pendingBackfills, rateAndEta, type BatchReport } from '../../src/migrations/backfill.js';
import { parseMigrationName, type Migration } from '../../src/migrations/discovery.js';
import { appliedById, type LedgerEntry } from '../../src/migrations/ledger.js';
import { pendingContracts, pendingExpands, statusRows, type HostMigrations } from '../../src/migrations/plan.js';
import { statusText } from '../../src/commands/migrate.js';
import { quote } from '../../src/shell.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const sha = (c: string) => c.repeat(64);
const mig = (file: string, executable = false): Migration => {
  const n = parseMigrationName(file);
  if (!n || n instanceof Error) throw new Error(`bad fixture ${file}`);
  return { ...n, path: `migrations/${file}`, sha256: sha('a'), executable };
};
const applied = (file: string): LedgerEntry => {
  const m = mig(file);
  return { id: m.id, name: m.name, file, phase: m.phase, sha256: sha('a'), release: 'R2', time: '2026-11-30T00:00:00.000Z', duration: 5, host: 'db' };
};
/** A backfill's ledger line for batch n of 1000 rows, keys 1000·n. */
const batchLine = (file: string, n: number, state: 'running' | 'done' = 'running', rows = 1000): LedgerEntry => ({
  ...applied(file),
  duration: n * 10,
  state,
  batch: n,
  rows,
  totalRows: n * 1000,
  last: String(n * 1000),
  remaining: state === 'done' ? 0 : 5000 - n * 1000,
  batchMs: 10,
});
const host = (name: string, current: string | undefined, releases: Record<string, Migration[]>): HostMigrations => ({
  host: name,
  current,
  currentMigrations: current ? (releases[current] ?? []) : [],
  releases: Object.entries(releases).map(([id, migrations]) => ({ id, migrations })),
});

test('names: backfill is a phase', () => {
  assert.equal(parseMigrationName('003_fill_street_parts.backfill.sql'), { id: '003', name: 'fill_street_parts', phase: 'backfill', file: '003_fill_street_parts.backfill.sql' });
  assert.is((parseMigrationName('007_move.backfill') as Migration).phase, 'backfill');
  assert.match((parseMigrationName('003_fill.backfil.sql') as Error).message, "unknown phase 'backfil'");
});

test('protocol: remaining= decides, rows= when remaining is missing, exit 3 means more; the last word wins', () => {
  const ok = (stdout: string, code = 0) => {
    const r = parseBatchOutput(stdout, code);
    if (r instanceof Error) throw r;
    return r;
  };
  assert.equal(ok('rows=5000 last=5000 remaining=995000\n'), { rows: 5000, last: '5000', remaining: 995000, more: true } as BatchReport);
  assert.equal(ok('rows=12 last=1000000 remaining=0\n'), { rows: 12, last: '1000000', remaining: 0, more: false });
  // psql -At output of `select 'rows=' || n, 'last=' || k, 'remaining=' || r`
  assert.equal(ok('rows=5000|last=abc-17|remaining=3\n'), { rows: 5000, last: 'abc-17', remaining: 3, more: true });
  // Noise before the last line: the last line still counts.
  assert.equal(ok('NOTICE: hi\n        ?column?\n-------------------\n rows=0 remaining=0\n'), { rows: 0, last: undefined, remaining: 0, more: false });
  // Without remaining: rows decides.
  assert.equal(ok('rows=10 last=9\n'), { rows: 10, last: '9', remaining: undefined, more: true });
  assert.equal(ok('rows=0\n'), { rows: 0, last: undefined, remaining: undefined, more: false });
  // Exit 3: more, whatever it says (and even with nothing).
  assert.equal(ok('', 3), { rows: undefined, last: undefined, remaining: undefined, more: true });
  assert.equal(ok('remaining=0', 3).more, true);
  // The last word of each key wins; an empty last= keeps the previous key.
  assert.equal(ok('remaining=5\nrows=1 remaining=0 last=\n'), { rows: 1, last: undefined, remaining: 0, more: false });
  // Words glued to other text do not count.
  assert.instance(parseBatchOutput('xremaining=0 rowsx=1\n', 0), Error);
});

test('protocol: only the last line, or the lines after the batch tag, speak for a batch; last= is printable and bounded', () => {
  const ok = (stdout: string, tag?: string) => {
    const r = parseBatchOutput(stdout, 0, tag);
    if (r instanceof Error) throw r;
    return r;
  };
  // Data printed before the last line (a row holding "remaining=0") never ends a backfill.
  assert.equal(ok('street=x remaining=0\nrows=5 last=10 remaining=90\n'), { rows: 5, last: '10', remaining: 90, more: true });
  assert.instance(parseBatchOutput('rows=5 remaining=90\n(1 row)\n', 0), Error, 'the words must be on the last line');
  // With the tag ship passed in $SHIP_BACKFILL_TAG: its lines alone, wherever they are.
  const tag = 'ship-backfill-0123456789abcdef';
  assert.equal(ok(`${tag} rows=5 last=10 remaining=90\nname remaining=0\n`, tag), { rows: 5, last: '10', remaining: 90, more: true });
  assert.equal(ok(`${tag} rows=5\n${tag} last=10 remaining=0\n(1 row)\n`, tag), { rows: 5, last: '10', remaining: 0, more: false });
  // No tagged line: the last line, as without a tag.
  assert.equal(ok('rows=1 remaining=0\n', tag).more, false);
  // last= : printable, at most 256 characters.
  assert.is(ok(`rows=1 last=${'k'.repeat(256)}\n`).last, 'k'.repeat(256));
  assert.match((parseBatchOutput(`rows=1 last=${'k'.repeat(257)}\n`, 0) as Error).message, 'printable, at most 256 characters');
  assert.instance(parseBatchOutput('rows=1 last=a\u001b]52;c;eA==\u0007\n', 0), Error);
});

test('protocol: silence, bad counts and other exit statuses are errors, never "done"', () => {
  const silent = parseBatchOutput('UPDATE 5000\n', 0);
  assert.instance(silent, Error);
  assert.match((silent as Error).message, 'neither remaining=<n> nor rows=<n>');
  assert.match((parseBatchOutput('remaining=lots', 0) as Error).message, 'remaining=lots is not a count');
  assert.match((parseBatchOutput('rows=-1 remaining=0', 0) as Error).message, 'rows=-1 is not a count');
  assert.instance(parseBatchOutput('remaining=0', 1), Error);
});

test('progress: from the ledger lines of a backfill; done only with a done line', () => {
  const f = '003_fill.backfill.sql';
  const ledger = [applied('001_a.sql'), applied('002_b.expand.sql'), batchLine(f, 1), batchLine(f, 2)];
  const p = backfillProgress(ledger).get('003')!;
  assert.equal([p.state, p.batches, p.rows, p.last, p.remaining, p.elapsed], ['running', 2, 2000, '2000', 3000, 20]);
  assert.not.ok(appliedById(ledger).has('003'), 'running is not applied');
  const r = [mig('001_a.sql'), mig('002_b.expand.sql'), mig(f), mig('004_c.contract.sql')];
  assert.equal(pendingBackfills(r, ledger).map((m) => m.id), ['003']);
  assert.equal(pendingExpands(r, ledger), [], 'a backfill is never an expand');
  const done = [...ledger, batchLine(f, 3), batchLine(f, 4), batchLine(f, 5, 'done', 400)];
  assert.equal(backfillProgress(done).get('003')!.state, 'done');
  assert.equal(appliedById(done).get('003')!.state, 'done', 'applied from its done line on');
  assert.equal(pendingBackfills(r, done), []);
  // Lines after a done one (none should exist) change nothing.
  assert.equal(backfillProgress([...done, batchLine(f, 6)]).get('003')!.batches, 5);
});

test('gating: a contract waits for every unfinished backfill with a lower id, whatever holds the hosts', () => {
  const f = '003_fill.backfill.sql';
  const r3 = [mig('001_a.sql'), mig('002_b.expand.sql'), mig(f), mig('004_c.contract.sql'), mig('005_later.backfill.sql')];
  const base = [applied('001_a.sql'), applied('002_b.expand.sql')];
  const hosts = [host('web1', 'R3', { R3: r3 }), host('web2', 'R3', { R3: r3 })];
  // Not started: held back.
  let c = pendingContracts(hosts, base);
  assert.equal(c.map((x) => [x.id, x.runnable, x.blockedBy, x.backfills]), [['004', false, [], [f]]]);
  assert.match(c[0].reason!, `backfill ${f} has not run yet`);
  // Running: held back, with the progress in the reason.
  c = pendingContracts(hosts, [...base, batchLine(f, 1), batchLine(f, 2)]);
  assert.is(c[0].runnable, false);
  assert.match(c[0].reason!, `backfill ${f} is not done (2 batches, 2000 rows, last key 2000, 3000 left)`);
  // Done: runnable; the backfill with a higher id (005) does not hold 004.
  c = pendingContracts(hosts, [...base, batchLine(f, 1), batchLine(f, 2, 'done')]);
  assert.equal(c.map((x) => [x.runnable, x.reason, x.backfills]), [[true, undefined, []]]);
  // A backfill started from a release no host holds any more still holds it back.
  c = pendingContracts([host('web1', 'R4', { R4: r3.filter((m) => m.file !== f) })], [...base, batchLine(f, 1)]);
  assert.equal(c.map((x) => x.backfills), [[f]]);
  // Hosts and backfills together: both reasons.
  c = pendingContracts([host('web1', 'R3', { R3: r3 }), host('web2', 'R2', { R2: r3.slice(0, 3) })], [...base, batchLine(f, 1)]);
  assert.equal(c[0].blockedBy, ['web2']);
  assert.match(c[0].reason!, 'is not done');
  assert.match(c[0].reason!, 'web2 runs R2, which lacks it');
  assert.equal(openBackfills([r3], base).map((b) => b.id), ['003', '005']);
  assert.equal(backfillsBlocking('004', openBackfills([r3], base)).map((b) => b.id), ['003']);
  assert.equal(backfillsBlocking('10', openBackfills([r3], base)).map((b) => b.id), ['003', '005'], 'ids compare numerically');
});

test('status: a running backfill shows batches, rows, last key; the contract says why it waits', () => {
  const f = '003_fill.backfill.sql';
  const r3 = [mig('001_a.sql'), mig('002_b.expand.sql'), mig(f), mig('004_c.contract.sql')];
  const ledger = [applied('001_a.sql'), applied('002_b.expand.sql'), batchLine(f, 1), batchLine(f, 2)];
  const contracts = pendingContracts([host('web1', 'R3', { R3: r3 })], ledger);
  const rows = statusRows(ledger, { release: 'R3', migrations: r3 }, contracts);
  assert.equal(rows.map((r) => [r.id, r.phase, r.state, r.batches ?? null, r.rows ?? null, r.last ?? null]), [
    ['001', 'expand', 'applied', null, null, null],
    ['002', 'expand', 'applied', null, null, null],
    ['003', 'backfill', 'running', 2, 2000, '2000'],
    ['004', 'contract', 'pending', null, null, null],
  ]);
  const text = statusText(rows, 'web1', 'R3');
  assert.match(text, /backfill:\n  003_fill\.backfill\.sql\s+running  2 batches, 2000 rows, last key 2000, 3000 left/);
  assert.match(text, /004_c\.contract\.sql\s+not yet: backfill 003_fill\.backfill\.sql is not done/);
  // Not started yet, then done.
  const fresh = statusRows(ledger.slice(0, 2), { release: 'R3', migrations: r3 }, []);
  assert.equal(fresh.find((r) => r.id === '003')!.state, 'pending');
  assert.match(statusText(fresh, 'web1', 'R3'), /003_fill\.backfill\.sql\s+not started/);
  const done = statusRows([...ledger, batchLine(f, 3, 'done')], { release: 'R3', migrations: r3 }, []);
  const row = done.find((r) => r.id === '003')!;
  assert.equal([row.state, row.batches, row.rows], ['applied', 3, 3000]);
  assert.match(statusText(done, 'web1', 'R3'), /003_fill\.backfill\.sql\s+backfill .*\(3 batches, 3000 rows\)/);
});

test('batch command: {file} and {after} are variable references, never pasted; {batch} a number; executables run directly; rate and ETA', () => {
  const run = 'psql "$DATABASE_URL" -v batch={batch} -v after={after} -f {file}';
  assert.is(batchCommand(run, mig('003_f.backfill.sql'), 5000, quote), `psql "$DATABASE_URL" -v batch=5000 -v after="$SHIP_BACKFILL_AFTER" -f "$SHIP_MIGRATION_FILE"`);
  assert.is(batchCommand('psql -v after="{after}" -f "{file}"', mig('003_f.backfill.sql'), 5000, quote), 'psql -v after="${SHIP_BACKFILL_AFTER}" -f "${SHIP_MIGRATION_FILE}"');
  assert.is(batchCommand(run, mig('003_f.backfill.sh', true), 5000, quote), './migrations/003_f.backfill.sh');
  assert.equal(rateAndEta(10_000, 2000, 50_000), { rate: 5000, eta: 10_000 });
  assert.equal(rateAndEta(0, 2000, 5), {});
});

test('config: migrations.backfill defaults, durations, and bad values named by path', () => {
  const stage = (backfill?: object) => parseConfig({ app: 'a', stages: { p: { hosts: ['local'], deployTo: '/srv/a', migrations: { backfill } } } }, '/srv/ship.config.json').stage('p');
  assert.equal(stage().migrations.backfill, { mode: 'before-switch', batch: 1000, pause: 200, maxBatches: undefined, timeout: undefined });
  assert.equal(stage({ mode: 'after-switch', batch: 5000, pause: '1s', maxBatches: 20, timeout: '10m' }).migrations.backfill, {
    mode: 'after-switch',
    batch: 5000,
    pause: 1000,
    maxBatches: 20,
    timeout: 600_000,
  });
  const bad = (b: object) => {
    try {
      stage(b);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map((p) => p.path).join(',');
      throw e;
    }
    return '';
  };
  assert.match(bad({ mode: 'sometime' }), 'migrations.backfill.mode');
  assert.match(bad({ batch: 0 }), 'migrations.backfill.batch');
  assert.match(bad({ pause: 'soon' }), 'migrations.backfill.pause');
  assert.match(bad({ size: 10 }), 'migrations.backfill');
});

test.run();

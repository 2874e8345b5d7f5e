import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareIds, discover, parseMigrationName, type Migration } from '../../src/migrations/discovery.js';
import { parseLedger, ledgerLine, type LedgerEntry } from '../../src/migrations/ledger.js';
import { checksumMismatches, contractsMissingFrom, migrationHostOf, pendingContracts, pendingExpands, statusRows, type HostMigrations } from '../../src/migrations/plan.js';

const sha = (c: string) => c.repeat(64);
const mig = (file: string, s = 'a', executable = false): Migration => {
  const n = parseMigrationName(file);
  if (!n || n instanceof Error) throw new Error(`bad fixture ${file}`);
  return { ...n, path: `migrations/${file}`, sha256: sha(s), executable };
};
const applied = (file: string, s = 'a', release = 'R1'): LedgerEntry => {
  const m = mig(file, s);
  return { id: m.id, name: m.name, file, phase: m.phase, sha256: sha(s), release, time: '2026-11-30T00:00:00.000Z', duration: 5, host: 'db' };
};

test('names: <id>_<name>.<phase>.<ext>; no phase is expand; strangers ignored; a bad phase is an error', () => {
  assert.equal(parseMigrationName('002_split_street.expand.sql'), { id: '002', name: 'split_street', phase: 'expand', file: '002_split_street.expand.sql' });
  assert.equal((parseMigrationName('003_drop.contract.sql') as Migration).phase, 'contract');
  assert.equal((parseMigrationName('001_create.sql') as Migration).phase, 'expand');
  assert.equal((parseMigrationName('20261130_backfill') as Migration).phase, 'expand');
  assert.equal((parseMigrationName('005_cleanup.contract') as Migration).phase, 'contract');
  assert.is(parseMigrationName('README.md'), null);
  assert.is(parseMigrationName('.keep'), null);
  assert.is(parseMigrationName('schema_dump.sql'), null, 'an id starts with a digit');
  const typo = parseMigrationName('003_drop.contrat.sql');
  assert.instance(typo, Error);
  assert.match((typo as Error).message, "unknown phase 'contrat'");
  assert.instance(parseMigrationName('003_drop.contract.sql.gz'), Error);
});

test('ids sort numerically when numeric, else by string', () => {
  assert.ok(compareIds('9', '10') < 0);
  assert.ok(compareIds('010', '9') > 0);
  assert.ok(compareIds('20261130a', '20261130b') < 0);
  const d = discover(
    [
      { file: '10_c.sql', sha256: sha('1'), executable: false },
      { file: '9_b.contract.sql', sha256: sha('2'), executable: true },
      { file: 'README.md', sha256: sha('3'), executable: false },
    ],
    'db/migrations/',
  );
  assert.equal(d.migrations.map((m) => [m.id, m.phase, m.path, m.executable]), [
    ['9', 'contract', 'db/migrations/9_b.contract.sql', true],
    ['10', 'expand', 'db/migrations/10_c.sql', false],
  ]);
  assert.equal(d.problems, []);
});

test('duplicate ids and misnamed files are problems', () => {
  const d = discover(
    [
      { file: '001_a.sql', sha256: sha('1'), executable: false },
      { file: '001_b.sql', sha256: sha('2'), executable: false },
      { file: '002_c.later.sql', sha256: sha('3'), executable: false },
    ],
    'migrations',
  );
  assert.is(d.problems.length, 2);
  assert.match(d.problems.join('\n'), '001_b.sql: id 001 is also used by 001_a.sql');
  assert.match(d.problems.join('\n'), "002_c.later.sql: unknown phase 'later'");
});

test('ledger: lines round-trip; a torn last line is skipped', () => {
  const e = applied('001_a.sql');
  const text = ledgerLine(e) + ledgerLine(applied('002_b.sql')) + '{"id":"003","na';
  assert.equal(parseLedger(text).map((x) => x.id), ['001', '002']);
  assert.equal(parseLedger(text)[0], e);
});

test('migration host: the first with role db, else the first', () => {
  assert.is(migrationHostOf([{ n: 'a', roles: [] }, { n: 'b', roles: ['web', 'db'] }, { n: 'c', roles: ['db'] }])!.n, 'b');
  assert.is(migrationHostOf([{ n: 'a', roles: ['web'] }, { n: 'b', roles: [] }])!.n, 'a');
});

test('pending expands skip applied ones and contracts; changed checksums of applied ones are found', () => {
  const rel = [mig('001_a.sql', 'a'), mig('002_b.expand.sql', 'b'), mig('003_c.contract.sql', 'c'), mig('004_d.expand.sql', 'd')];
  const ledger = [applied('001_a.sql', 'a'), applied('002_b.expand.sql', 'x')];
  assert.equal(pendingExpands(rel, ledger).map((m) => m.id), ['004']);
  const changed = checksumMismatches(rel, ledger, 'R2');
  assert.equal(changed.map((c) => [c.file, c.release]), [['002_b.expand.sql', 'R2']]);
  assert.equal(checksumMismatches(rel, [applied('001_a.sql', 'a')], 'R2'), []);
});

const host = (name: string, current: string | undefined, releases: Record<string, Migration[]>): HostMigrations => ({
  host: name,
  current,
  currentMigrations: current ? releases[current] ?? [] : [],
  releases: Object.entries(releases).map(([id, migrations]) => ({ id, migrations })),
});

test('contracts: pending when a good release holds one the ledger lacks; runnable only when every current release holds it', () => {
  const r2 = [mig('001_a.sql'), mig('002_b.expand.sql')];
  const r3 = [...r2, mig('003_c.contract.sql')];
  const ledger = [applied('001_a.sql'), applied('002_b.expand.sql')];
  // web2 still runs R2: not runnable, and web2 is named.
  let c = pendingContracts([host('web1', 'R3', { R2: r2, R3: r3 }), host('web2', 'R2', { R2: r2, R3: r3 })], ledger);
  assert.equal(c.map((x) => [x.id, x.runnable, x.blockedBy, x.release]), [['003', false, ['web2'], 'R3']]);
  assert.match(c[0].reason!, 'web2 runs R2, which lacks it');
  // A host with no current release blocks too.
  c = pendingContracts([host('web1', 'R3', { R3: r3 }), host('web2', undefined, {})], ledger);
  assert.match(c[0].reason!, 'web2 has no current release');
  // Everyone on R3: runnable.
  c = pendingContracts([host('web1', 'R3', { R3: r3 }), host('web2', 'R3', { R3: r3 })], ledger);
  assert.equal(c.map((x) => [x.id, x.runnable, x.reason]), [['003', true, undefined]]);
  // Applied: no longer pending.
  assert.equal(pendingContracts([host('web1', 'R3', { R3: r3 })], [...ledger, applied('003_c.contract.sql')]), []);
  // An unreachable host holds it back too.
  c = pendingContracts([host('web1', 'R3', { R3: r3 }), { host: 'web9', currentMigrations: [], releases: [], unreachable: true }], ledger);
  assert.equal(c.map((x) => [x.runnable, x.blockedBy, x.reason]), [[false, ['web9'], 'web9 could not be reached']]);
  // Only staged (the deploy that ships it): pending, not runnable.
  c = pendingContracts([host('web1', 'R2', { R2: r2, R3: r3 })], ledger);
  assert.equal(c.map((x) => x.runnable), [false]);
});

test('status rows: applied, pending expands of the reference release, contracts with reasons; changed files flagged', () => {
  const r3 = [mig('001_a.sql', 'z'), mig('002_b.expand.sql'), mig('003_c.contract.sql')];
  const ledger = [applied('001_a.sql', 'a')];
  const contracts = pendingContracts([host('web1', 'R3', { R3: r3 }), host('web2', 'R2', { R2: r3.slice(0, 2) })], ledger);
  const rows = statusRows(ledger, { release: 'R3', migrations: r3 }, contracts);
  assert.equal(rows.map((r) => [r.id, r.phase, r.state, r.runnable ?? null, !!r.changed]), [
    ['001', 'expand', 'applied', null, true],
    ['002', 'expand', 'pending', true, false],
    ['003', 'contract', 'pending', false, false],
  ]);
});

test('rollback guard: applied contracts a release lacks', () => {
  const ledger = [applied('001_a.sql'), applied('003_c.contract.sql')];
  assert.equal(contractsMissingFrom(ledger, [mig('001_a.sql'), mig('002_b.expand.sql')]).map((e) => e.file), ['003_c.contract.sql']);
  assert.equal(contractsMissingFrom(ledger, [mig('001_a.sql'), mig('003_c.contract.sql')]), []);
});

test.run();

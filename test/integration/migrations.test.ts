/**
 * Forward-only migrations in expand/contract phases (README, Migrations) on a real PostgreSQL
 * (test/harness/postgres.ts) over real sshd hosts (test/harness/sshd.ts). The app is
 * fixtures/address-app: release 1 keeps "name number" in `street`; release 2 expands
 * (street_name, house_number, a sync trigger); release 3 contracts (drops both);
 * release 4 adds a column. Its scripts (bin/add-address, bin/list-addresses) run on
 * the hosts over ssh, from whatever release the host runs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, chmodSync, cpSync, existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { SshHost, SshHosts } from '../harness/sshd.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, writeTree } from '../harness/ship.js';
import { sharedSshHosts, sshBlock, sshHosts } from '../harness/stage.js';
import { startPostgres, type Postgres } from '../harness/postgres.js';

const FIXTURE = path.join(ROOT, 'fixtures/address-app');
const RUN = 'psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f {file}';

let ssh: SshHosts;
let pg: Postgres;
const dirs: string[] = [];
const test = suite('migrations on postgres');
test.before(async () => {
  [ssh, pg] = await Promise.all([sharedSshHosts(), startPostgres()]);
});
test.after(async () => {
  dirs.forEach(rmrf);
  await pg?.stop();
});

interface App {
  dir: string;
  build: string;
  url: string;
  hosts: SshHost[];
  root(h: SshHost): string;
  release(n: number | string, extra?: Record<string, { text: string; mode?: number }>): void;
  deploy(...args: string[]): ReturnType<typeof ship>;
  ship(...args: string[]): ReturnType<typeof ship>;
  sql(q: string): string;
  ledger(): Array<Record<string, any>>;
  columns(): string[];
  current(h: SshHost): string | undefined;
  /** Runs a script of the host's current release (or a given release dir) over ssh. */
  onHost(h: SshHost, words: string[], release?: string): string;
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

function app(sub: string, opts: { hosts?: number; migrations?: Record<string, unknown>; stage?: Record<string, unknown> } = {}): App {
  const dir = tmpDir('ship-mig-');
  dirs.push(dir);
  const url = pg.createDatabase(sub);
  const hosts = ssh.hosts.slice(0, opts.hosts ?? 2);
  writeConfig(dir, {
    app: 'address',
    keepReleases: 10,
    ssh: sshBlock(ssh),
    stages: {
      test: {
        hosts: sshHosts(ssh, sub, hosts.length),
        build: { dir: 'build' },
        env: { DATABASE_URL: url },
        migrations: { run: RUN, ...opts.migrations },
        ...opts.stage,
      },
    },
  });
  const build = path.join(dir, 'build');
  const root = (h: SshHost) => path.join(h.deployRoot, sub);
  const a: App = {
    dir,
    build,
    url,
    hosts,
    root,
    release(n, extra = {}) {
      rmrf(build);
      cpSync(typeof n === 'number' ? path.join(FIXTURE, `release-${n}`) : n, build, { recursive: true });
      for (const [rel, f] of Object.entries(extra)) {
        writeFileSync(path.join(build, rel), f.text);
        if (f.mode) chmodSync(path.join(build, rel), f.mode);
      }
    },
    deploy: (...args) => ship(['deploy', 'test', '--json', ...args], { cwd: dir }),
    ship: (...args) => ship(args, { cwd: dir }),
    sql: (s) => pg.psql(url, s),
    ledger() {
      const f = path.join(root(hosts[0]), '.ship/migrations.jsonl');
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    },
    columns: () => pg.psql(url, "select column_name from information_schema.columns where table_name = 'address' order by column_name").split('\n').filter(Boolean),
    current(h) {
      try {
        return readFileSync(path.join(root(h), 'current/VERSION'), 'utf8').trim();
      } catch {
        return undefined;
      }
    },
    onHost(h, words, release) {
      const cwd = release ? path.join(root(h), 'releases', release) : path.join(root(h), 'current');
      const cmd = `cd ${q(cwd)} && DATABASE_URL=${q(url)} ${words.map(q).join(' ')}`;
      return execFileSync(
        'ssh',
        ['-i', ssh.privateKey, '-o', `UserKnownHostsFile=${ssh.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(h.port), `${h.user}@${h.host}`, cmd],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      ).trim();
    },
  };
  return a;
}

const releaseOf = (r: { events: Array<Record<string, any>> }) => r.events.at(-1)?.release as string;
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;

test('the address example: expand while two releases run side by side, contract once all run release 3, nothing lost', async () => {
  const a = app('address');
  const [h1, h2] = a.hosts;

  a.release(1);
  const r1 = await a.deploy();
  assert.is(r1.code, 0, out(r1));
  assert.equal(a.ledger().map((e) => [e.id, e.phase, e.release]), [['001', 'expand', releaseOf(r1)]]);
  const e1 = a.ledger()[0];
  assert.match(e1.sha256, /^[0-9a-f]{64}$/);
  assert.ok(typeof e1.duration === 'number' && !isNaN(Date.parse(e1.time)));
  assert.not.ok(existsSync(path.join(a.root(h2), '.ship/migrations.jsonl')), 'the ledger lives on the migration host only');
  a.onHost(h1, ['bin/add-address', 'Main Street 12']);
  a.onHost(h2, ['bin/add-address', "O'Connell Road 3a"]);

  // Release 2 goes live on host1 only: host2 still runs release-1 code.
  a.release(2);
  const r2 = await a.deploy('--hosts', 'host1');
  assert.is(r2.code, 0, out(r2));
  assert.is(a.current(h1), '2');
  assert.is(a.current(h2), '1');
  assert.equal(a.ledger().map((e) => e.id), ['001', '002']);
  assert.equal(a.columns(), ['house_number', 'id', 'street', 'street_name']);

  a.onHost(h2, ['bin/add-address', 'Park Lane 5']); // release 1 writes `street`
  a.onHost(h1, ['bin/add-address', 'Elm Road', '7']); // release 2 writes the new columns
  const expected = ['Main Street 12', "O'Connell Road 3a", 'Park Lane 5', 'Elm Road 7'];
  assert.equal(a.onHost(h2, ['bin/list-addresses']).split('\n'), expected, 'release-1 code reads every row');
  assert.equal(a.onHost(h1, ['bin/list-addresses']).split('\n'), expected.map((s) => s.replace(/ (\S+)$/, '|$1')), 'release-2 code reads every row');

  // Release 2 everywhere: nothing left to migrate.
  const r2b = await a.deploy();
  assert.is(r2b.code, 0, out(r2b));
  assert.is(a.ledger().length, 2, 're-deploying runs nothing');

  // Release 3 on host1 only: its contract waits (host2 runs release 2).
  a.release(3);
  const r3a = await a.deploy('--hosts', 'host1');
  assert.is(r3a.code, 0, out(r3a));
  const st = await a.ship('migrate', 'test', '--status', '--json');
  assert.is(st.code, 0, out(st));
  const rows = st.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(rows.at(-1).type, 'summary', 'the summary comes last');
  const c3 = rows.find((r) => r.id === '003');
  assert.equal([c3.phase, c3.state, c3.runnable], ['contract', 'pending', false]);
  assert.match(c3.reason, 'host2');
  assert.equal(rows.filter((r) => r.state === 'applied').map((r) => r.id), ['001', '002']);

  const early = await a.ship('migrate', 'test', '--contract');
  assert.is(early.code, 1, 'contracts pending, none runnable yet: exit 1');
  assert.match(early.stderr, '003_drop_street.contract.sql');
  assert.match(early.stderr, 'host2');
  assert.ok(a.columns().includes('street'));

  const status = await a.ship('status', 'test', '--json');
  assert.is(status.code, 0, out(status));
  const byHost = Object.fromEntries(status.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.host).map((r) => [r.host, r]));
  assert.equal(byHost.host2.blocking, ['003_drop_street.contract.sql']);
  assert.equal(byHost.host1.blocking, []);
  assert.equal(byHost.host1.pendingContracts, [{ id: '003', file: '003_drop_street.contract.sql', runnable: false }]);
  assert.is(byHost.host1.migrationHost, true);
  assert.is(byHost.host1.lock, null);

  // Release 3 everywhere (manual policy: the deploy does not contract), then the contract.
  const r3 = await a.deploy();
  assert.is(r3.code, 0, out(r3));
  assert.ok(a.columns().includes('street'), 'manual: the deploy leaves contracts alone');
  const dry = await a.ship('migrate', 'test', '--contract', '--dry-run');
  assert.is(dry.code, 0, out(dry));
  assert.match(dry.stderr, 'would run contract migration migrations/003_drop_street.contract.sql');
  assert.ok(a.columns().includes('street'), 'a dry run changes nothing');
  const c = await a.ship('migrate', 'test', '--contract');
  assert.is(c.code, 0, out(c));
  assert.equal(a.columns(), ['house_number', 'id', 'street_name']);
  assert.equal(a.ledger().map((e) => [e.id, e.phase]), [['001', 'expand'], ['002', 'expand'], ['003', 'contract']]);
  for (const h of a.hosts) assert.equal(a.onHost(h, ['bin/list-addresses']).split('\n'), expected.map((s) => s.replace(/ (\S+)$/, '|$1')), `${h.name}: nothing lost`);
  a.onHost(h2, ['bin/add-address', 'Elm Road', '9']);
  assert.is(a.sql('select count(*) from address'), '5');

  const again = await a.ship('migrate', 'test', '--contract');
  assert.is(again.code, 0);
  assert.match(again.stderr, 'no contract migrations pending');
  const st2 = await a.ship('status', 'test');
  assert.is(st2.code, 0);
  assert.match(st2.stdout, 'none pending');
});

test('ledger: applied migrations never run again; a changed applied file stops the deploy before any migration', async () => {
  const a = app('ledger', { hosts: 1 });
  a.release(2);
  const r1 = await a.deploy();
  assert.is(r1.code, 0, out(r1));
  assert.equal(a.ledger().map((e) => e.id), ['001', '002']);
  const again = await a.deploy();
  assert.is(again.code, 0, out(again));
  assert.is(a.ledger().length, 2);
  const cur = a.current(a.hosts[0]);

  // A new expand (would create a table) plus an edited applied one: nothing runs.
  a.release(2, { 'migrations/005_audit.expand.sql': { text: 'create table audit (id int);\n' } });
  appendFileSync(path.join(a.build, 'migrations/001_create_address.expand.sql'), '-- edited after it ran\n');
  const bad = await a.deploy();
  assert.is(bad.code, 1, out(bad));
  const err = bad.events.find((e) => e.type === 'error');
  assert.match(err!.message, 'migrations/001_create_address.expand.sql');
  assert.match(err!.message, 'changed after it was applied');
  assert.is(a.ledger().length, 2);
  assert.is(a.sql("select count(*) from pg_tables where tablename = 'audit'"), '0', 'nothing ran');
  assert.is(a.current(a.hosts[0]), cur, 'no switch');
  const rel = await a.ship('releases', 'test', '--json');
  const states = rel.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.id);
  assert.is(states.at(-1).state, 'failed');
});

test('a failing expand migration: no host switches, exit 1, the ones before it stay applied and recorded', async () => {
  const a = app('failing');
  a.release(1);
  assert.is((await a.deploy()).code, 0);
  a.release(2, {
    'migrations/003_bad.expand.sql': { text: 'begin;\ncreate table bad (id int);\nselect 1 / 0;\ncommit;\n' },
    'migrations/004_after.expand.sql': { text: 'create table after_bad (id int);\n' },
  });
  const r = await a.deploy();
  assert.is(r.code, 1, out(r));
  const err = r.events.find((e) => e.type === 'error')!;
  assert.match(err.message, '003');
  assert.match(err.message, 'division by zero', 'the tail of its output');
  for (const h of a.hosts) assert.is(a.current(h), '1', `${h.name} did not switch`);
  assert.not.ok(r.events.some((e) => e.type === 'switch'));
  assert.equal(a.ledger().map((e) => e.id), ['001', '002'], '002 ran in this deploy and stays recorded');
  assert.ok(a.columns().includes('street_name'));
  assert.is(a.sql("select count(*) from pg_tables where tablename in ('bad', 'after_bad')"), '0', 'the failed one rolled back; nothing after it ran');
  for (const h of a.hosts) {
    const hist = readFileSync(path.join(a.root(h), '.ship/history.jsonl'), 'utf8');
    assert.match(hist, /"action":"failure"/, `${h.name}: release marked failed`);
  }
  // Fixed: the next deploy runs what is left, from 003 on.
  a.release(2, { 'migrations/003_bad.expand.sql': { text: 'create table bad (id int);\n' }, 'migrations/004_after.expand.sql': { text: 'create table after_bad (id int);\n' } });
  const fixed = await a.deploy();
  assert.is(fixed.code, 0, out(fixed));
  assert.equal(a.ledger().map((e) => e.id), ['001', '002', '003', '004']);
});

test('contract policy next-deploy: never in the deploy that ships it; at the start of the following one', async () => {
  const a = app('nextdeploy', { migrations: { contract: 'next-deploy' } });
  for (const n of [1, 2]) {
    a.release(n);
    assert.is((await a.deploy()).code, 0);
  }
  a.release(3);
  const r3 = await a.deploy();
  assert.is(r3.code, 0, out(r3));
  assert.ok(a.columns().includes('street'), 'not in the deploy that ships it');
  a.release(4);
  const r4 = await a.deploy();
  assert.is(r4.code, 0, out(r4));
  assert.equal(a.columns(), ['house_number', 'id', 'postcode', 'street_name']);
  const l = a.ledger();
  assert.equal(l.map((e) => e.id), ['001', '002', '003', '004']);
  assert.is(l[2].release, releaseOf(r3), 'the contract ran from the live release 3');
  assert.is(l[3].release, releaseOf(r4));
});

test('contract policy after-switch: gated on every host, then in the deploy once all switched and are healthy', async () => {
  const a = app('afterswitch', { migrations: { contract: 'after-switch' } });
  a.release(1);
  assert.is((await a.deploy()).code, 0);
  a.release(2);
  assert.is((await a.deploy()).code, 0);
  a.release(3);
  const part = await a.deploy('--hosts', 'host1');
  assert.is(part.code, 0, out(part));
  assert.ok(a.columns().includes('street'), 'host2 still runs release 2: refused');
  // A paused canary: one host switched, the contract waits for `ship switch`.
  const canary = await a.deploy('--strategy', 'canary', '--canary', '1', '--pause');
  assert.is(canary.code, 0, out(canary));
  assert.ok(a.columns().includes('street'), 'a paused canary leaves the contract alone');
  const sw = await a.ship('switch', 'test', releaseOf(canary), '--json');
  assert.is(sw.code, 0, out(sw));
  for (const h of a.hosts) assert.is(a.current(h), '3');
  assert.equal(a.columns(), ['house_number', 'id', 'street_name']);
  const steps = sw.events.filter((e) => e.type === 'step' && !e.host && e.status === 'done').map((e) => e.step);
  assert.ok(steps.indexOf('contract') > steps.lastIndexOf('health'), 'after the health checks');
  assert.equal(a.ledger().map((e) => e.id), ['001', '002', '003']);
  assert.is(a.ledger()[2].release, releaseOf(canary));
  // Nothing left: a further deploy runs nothing.
  const again = await a.deploy();
  assert.is(again.code, 0, out(again));
  assert.is(a.ledger().length, 3);
});

test('rollback guard: a release without an applied contract is refused by name, unless --force', async () => {
  const a = app('guard', { hosts: 1 });
  for (const n of [1, 2, 3]) {
    a.release(n);
    assert.is((await a.deploy()).code, 0);
  }
  // Before the contract ran, rolling back is fine (and forward again).
  const rb0 = await a.ship('rollback', 'test');
  assert.is(rb0.code, 0, out(rb0));
  assert.is(a.current(a.hosts[0]), '2');
  a.release(3);
  assert.is((await a.deploy()).code, 0);
  assert.is((await a.ship('migrate', 'test', '--contract')).code, 0);
  const rb = await a.ship('rollback', 'test');
  assert.is(rb.code, 1, out(rb));
  assert.match(rb.stderr, '003_drop_street.contract.sql');
  assert.match(rb.stderr, 'refused');
  assert.is(a.current(a.hosts[0]), '3', 'current untouched');
  const forced = await a.ship('rollback', 'test', '--force');
  assert.is(forced.code, 0, out(forced));
  assert.is(a.current(a.hosts[0]), '2');
});

test('leap-frog: release 1 to release 4: expands of 2..4 in id order; contracts runnable only after the switch', async () => {
  const a = app('leapfrog');
  a.release(1);
  assert.is((await a.deploy()).code, 0);
  a.onHost(a.hosts[0], ['bin/add-address', 'Main Street 12']);
  a.release(4);
  const part = await a.deploy('--hosts', 'host1');
  assert.is(part.code, 0, out(part));
  const l = a.ledger();
  assert.equal(l.map((e) => e.id), ['001', '002', '004'], 'expands in id order, the contract left out');
  assert.is(l[1].release, releaseOf(part));
  assert.ok(Date.parse(l[1].time) <= Date.parse(l[2].time));
  // host2 runs release 1: the contract of release 3 is not runnable.
  const st = await a.ship('migrate', 'test', '--status', '--json');
  const c3 = st.stdout.trim().split('\n').map((x) => JSON.parse(x)).find((r) => r.id === '003');
  assert.equal([c3.state, c3.runnable], ['pending', false]);
  a.onHost(a.hosts[1], ['bin/add-address', 'Park Lane 5']);
  const all = await a.deploy();
  assert.is(all.code, 0, out(all));
  const st2 = await a.ship('migrate', 'test', '--status');
  assert.match(st2.stdout, /003_drop_street\.contract\.sql\s+runnable now/);
  assert.is((await a.ship('migrate', 'test', '--contract')).code, 0);
  assert.equal(a.onHost(a.hosts[1], ['bin/list-addresses']).split('\n'), ['Main Street|12', 'Park Lane|5']);
  assert.equal(a.columns(), ['house_number', 'id', 'postcode', 'street_name']);
});

test('backup runs first, in the new release; a failing backup runs nothing; executables run directly with SHIP_* set', async () => {
  const backup = 'mkdir -p "$SHIP_DEPLOY_TO/shared" && pg_dump "$DATABASE_URL" --schema-only -f "$SHIP_DEPLOY_TO/shared/backup-$SHIP_RELEASE.sql" && pwd > "$SHIP_DEPLOY_TO/shared/backup-cwd"';
  const a = app('backup', { hosts: 1, migrations: { backup } });
  const shared = path.join(a.root(a.hosts[0]), 'shared');
  a.release(1);
  const r1 = await a.deploy();
  assert.is(r1.code, 0, out(r1));
  const dump1 = readFileSync(path.join(shared, `backup-${releaseOf(r1)}.sql`), 'utf8');
  assert.not.match(dump1, 'CREATE TABLE public.address', 'the backup ran before 001');
  assert.is(readFileSync(path.join(shared, 'backup-cwd'), 'utf8').trim(), path.join(a.root(a.hosts[0]), 'releases', releaseOf(r1)));

  // A failing backup: nothing runs, no switch, exit 1.
  a.release(2);
  const failing = app('backupfail', { hosts: 1, migrations: { backup: 'echo "disk full" >&2; exit 7' } });
  failing.release(1);
  const f0 = await failing.deploy();
  assert.is(f0.code, 1);
  assert.match(f0.events.find((e) => e.type === 'error')!.message, 'backup');
  assert.match(f0.events.find((e) => e.type === 'error')!.message, 'disk full');
  assert.equal(failing.ledger(), []);
  assert.is(failing.sql("select count(*) from pg_tables where tablename = 'address'"), '0');
  assert.is(failing.current(failing.hosts[0]), undefined);

  // An executable migration runs directly, in the new release, with SHIP_* and the stage env.
  a.release(2, {
    'migrations/003_note.expand.sh': {
      text: '#!/bin/sh\nset -e\nprintf "%s %s %s %s\\n" "$SHIP_MIGRATION_ID" "$SHIP_RELEASE" "$(pwd)" "$(cat VERSION)" > "$SHIP_DEPLOY_TO/shared/note"\npsql "$DATABASE_URL" -X -q -c "create table note (id int)"\n',
      mode: 0o755,
    },
  });
  const r2 = await a.deploy();
  assert.is(r2.code, 0, out(r2));
  const dump2 = readFileSync(path.join(shared, `backup-${releaseOf(r2)}.sql`), 'utf8');
  assert.match(dump2, 'CREATE TABLE public.address');
  assert.not.match(dump2, 'street_name', 'the backup ran before 002');
  const id2 = releaseOf(r2);
  assert.is(readFileSync(path.join(shared, 'note'), 'utf8').trim(), `003 ${id2} ${path.join(a.root(a.hosts[0]), 'releases', id2)} 2`);
  assert.equal(a.ledger().map((e) => e.id), ['001', '002', '003']);
  // Nothing pending: no backup.
  const before = readdirSync(shared).filter((f) => f.startsWith('backup-2')).length;
  assert.is((await a.deploy()).code, 0);
  assert.is(readdirSync(shared).filter((f) => f.startsWith('backup-2')).length, before);
});

test('ship status: per host current, next, lock; exit 4 when a host cannot be reached', async () => {
  const a = app('status', { hosts: 1 });
  a.release(1);
  assert.is((await a.deploy()).code, 0);
  const cfgFile = path.join(a.dir, 'ship.config.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  const { freePort } = await import('../harness/sshd.js');
  cfg.stages.test.hosts.push({ name: 'gone', host: '127.0.0.1', port: await freePort(), user: ssh.user, deployTo: '/tmp/nowhere' });
  writeFileSync(cfgFile, JSON.stringify(cfg));
  writeFileSync(path.join(a.root(a.hosts[0]), '.ship/lock'), JSON.stringify({ user: 'ann', host: 'laptop', pid: 42, command: 'deploy test', startedAt: '2026-11-30T00:00:00.000Z' }));
  const s = await a.ship('status', 'test', '--json');
  assert.is(s.code, 4, out(s));
  const lines = s.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const h1 = lines.find((l) => l.host === 'host1');
  assert.ok(h1.current && h1.reachable);
  assert.is(h1.lock.holder, 'ann@laptop pid 42 (deploy test) since 2026-11-30T00:00:00.000Z');
  assert.equal(lines.find((l) => l.host === 'gone').reachable, false);
  assert.is(lines.at(-1).type, 'summary');
  assert.is(lines.at(-1).exitCode, 4);
});

test('a build without migrations asks no host about them: a deploy outside an unreachable migration host goes through; with a migration it stops before the switch', async () => {
  // The migration host (role db) answers on no port: nothing listens there.
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
  const dir = tmpDir('ship-mig-');
  dirs.push(dir);
  const [h1] = sshHosts(ssh, 'nomig', 1);
  writeConfig(dir, {
    app: 'nomig',
    ssh: sshBlock(ssh),
    stages: { test: { hosts: [h1, { name: 'dbhost', host: '127.0.0.1', port: closed, user: 'nobody', deployTo: '/srv/nomig', roles: ['db'] }], build: { dir: 'build' }, migrations: { run: RUN } } },
  });
  const build = path.join(dir, 'build');
  writeTree(build, { 'index.html': 'v1' });
  const ok = await ship(['deploy', 'test', '--hosts', h1.name, '--json'], { cwd: dir });
  assert.is(ok.code, 0, out(ok));
  const live = readlinkSync(path.join(h1.deployTo, 'current'));
  writeTree(build, { 'index.html': 'v2', 'migrations/001_add.sql': 'select 1;' });
  const refused = await ship(['deploy', 'test', '--hosts', h1.name, '--json'], { cwd: dir });
  assert.is.not(refused.code, 0, out(refused));
  assert.match(out(refused), /dbhost/);
  assert.is(readlinkSync(path.join(h1.deployTo, 'current')), live, 'current unchanged');
});

test.run();

/**
 * Every command that writes, under --dry-run, over two real sshd hosts and a real
 * PostgreSQL: the stage has releases (one live, one staged as `next`), shared files, host
 * and local hooks, a reload command, an applied ledger with runnable contract and new
 * expand migrations, and the maintenance page up. Before and after each dry run the test
 * takes a listing of every path under each deploy root and the project directory (type,
 * size, mode, mtime in ns, link target, content hash) and the database's schema and rows:
 * the listings must be identical, byte for byte, while the output says what would happen.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startPostgres, type Postgres } from '../harness/postgres.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import type { SshHosts } from '../harness/sshd.js';
import { sharedSshHosts, sshBlock, sshHosts } from '../harness/stage.js';

const FIXTURE = path.join(ROOT, 'fixtures/address-app');
const RUN = 'psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f {file}';

const test = suite('--dry-run writes nothing');
let ssh: SshHosts;
let pg: Postgres;
let dir: string;
let url: string;
let roots: string[];
const releases: string[] = [];

/** Every path under `root`: type, size, mode, mtime (ns), link target, sha256 of a file's bytes. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    const rel = path.relative(root, p) || '.';
    const mode = (Number(st.mode) & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${rel} link ${mode} ${st.mtimeNs} -> ${readlinkSync(p)}`);
    else if (st.isDirectory()) {
      out.push(`${rel} dir ${mode} ${st.mtimeNs}`);
      for (const e of readdirSync(p).sort()) walk(path.join(p, e));
    } else if (st.isFile()) out.push(`${rel} file ${mode} ${st.size} ${st.mtimeNs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    else out.push(`${rel} other ${mode} ${st.mtimeNs}`);
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** The database as the app sees it: the schema of every table, and every row of address. */
function database(): string {
  const schema = pg.psql(url, "select table_name, column_name, data_type, is_nullable from information_schema.columns where table_schema = 'public' order by 1, 2");
  const rows = pg.psql(url, 'select * from address order by id');
  return `${schema}\n--\n${rows}`;
}

function snapshot() {
  return { hosts: roots.map(listing), project: listing(dir), db: database() };
}

const out = (r: ShipRun) => `${r.stdout}\n${r.stderr}`;
const run = (...args: string[]) => ship([...args, '--json'], { cwd: dir });
const logs = (r: ShipRun) => r.events.filter((e) => e.type === 'log').map((e) => `${e.host ?? ''} ${e.message}`).join('\n');

function build(n: number, extra: Record<string, string> = {}) {
  const b = path.join(dir, 'build');
  rmrf(b);
  cpSync(path.join(FIXTURE, `release-${n}`), b, { recursive: true });
  for (const [rel, text] of Object.entries(extra)) writeFileSync(path.join(b, rel), text);
}

test.before(async () => {
  [ssh, pg] = await Promise.all([sharedSshHosts(), startPostgres()]);
  dir = tmpDir('ship-dry-');
  const sub = path.basename(dir);
  url = pg.createDatabase('dry');
  const hosts = sshHosts(ssh, sub, 2);
  roots = hosts.map((h) => h.deployTo);
  writeConfig(dir, {
    app: 'address',
    keepReleases: 5,
    ssh: sshBlock(ssh),
    stages: {
      test: {
        hosts,
        build: { dir: 'build', command: 'date +%s%N > built-at' },
        env: { DATABASE_URL: url },
        shared: { dirs: ['storage'], files: ['.env'] },
        migrations: { run: RUN },
        reload: 'date +%s%N > "$SHIP_DEPLOY_TO"/reloaded-at',
        hooks: {
          'before:upload': 'date +%s%N >> "$SHIP_DEPLOY_TO"/hook-log',
          'after:switch': ['date +%s%N >> "$SHIP_DEPLOY_TO"/hook-log', 'local: date +%s%N >> local-hook-log'],
          'after:publish': 'local: date +%s%N >> local-hook-log',
        },
      },
    },
  });
  writeFileSync(path.join(dir, 'env.local'), 'SECRET=one\n');
  writeFileSync(path.join(dir, 'env.new'), 'SECRET=two\n');
  const setup = await run('setup', 'test', '--upload', '.env=env.local');
  assert.is(setup.code, 0, out(setup));
  // Releases 1, 2, 3 live in turn (ledger: 001, 002; 003 is a runnable contract), then 4 staged as next.
  for (const n of [1, 2, 3]) {
    build(n);
    const r = await run('deploy', 'test');
    assert.is(r.code, 0, out(r));
    releases.push(r.events.at(-1)!.release);
  }
  build(4);
  const staged = await run('deploy', 'test', '--no-switch');
  assert.is(staged.code, 0, out(staged));
  releases.push(staged.events.at(-1)!.release);
  const on = await run('maintenance', 'test', 'on');
  assert.is(on.code, 0, out(on));
  // The next build: release 4 plus a new expand migration.
  build(4, { 'migrations/005_add_note.expand.sql': 'alter table address add column note text;\n' });
  for (const root of roots) assert.ok(existsSync(path.join(root, 'shared/maintenance.html')));
});

test.after(async () => {
  if (dir) rmrf(dir);
  await pg?.stop();
});

test('the stage is what the dry runs start from', () => {
  for (const root of roots) {
    assert.is(readlinkSync(path.join(root, 'current')), `releases/${releases[2]}`);
    assert.is(readlinkSync(path.join(root, 'next')), `releases/${releases[3]}`);
    assert.ok(existsSync(path.join(root, 'hook-log')), 'the host hooks ran on real deploys');
  }
  assert.ok(existsSync(path.join(dir, 'local-hook-log')), 'the local hooks ran on real deploys');
  assert.ok(existsSync(path.join(dir, '.ship/cache')), 'real deploys keep a local cache');
  assert.match(database(), 'postcode');
});

/** Each command, with what its output must say; every one exits 0 and changes nothing. */
const DRY_RUNS: Array<{ args: string[]; says: (string | RegExp)[] }> = [
  {
    args: ['deploy', 'test'],
    says: [
      'would run: date +%s%N > built-at',
      /host1 would upload release \d{14}: send \d+ files \(\d+ bytes\), reuse \d+ from \d{14}/,
      'would run hook before:upload on host1, host2',
      'would run hook after:publish on this machine',
      'would run expand migration migrations/005_add_note.expand.sql',
      /host2 would switch current -> \d{14}/,
      'would run hook after:switch on host1, host2',
    ],
  },
  { args: ['deploy', 'test', '--no-switch'], says: [/host1 would point next -> \d{14}/, 'would run expand migration migrations/005_add_note.expand.sql'] },
  { args: ['switch', 'test'], says: [/promoting next \(\d{14}/, /host1 would switch current -> \d{14}/] },
  { args: ['rollback', 'test'], says: [/rolling back to \d{14}/, /host2 would switch current -> \d{14}/] },
  { args: ['prune', 'test', '--keep', '1'], says: [] },
  { args: ['migrate', 'test'], says: [] },
  { args: ['migrate', 'test', '--contract'], says: ['would run contract migration migrations/003_drop_street.contract.sql'] },
  { args: ['migrate', 'test', '--backfill'], says: [] },
  { args: ['maintenance', 'test', 'on'], says: [] },
  { args: ['maintenance', 'test', 'off'], says: [] },
  { args: ['setup', 'test', '--upload', '.env=env.new', '--force'], says: ['would replace .env'] },
];

for (const { args, says } of DRY_RUNS) {
  test(`${args.join(' ')} --dry-run exits 0, says what it would do, and changes no byte`, async () => {
    const before = snapshot();
    const r = await run(...args, '--dry-run');
    assert.is(r.code, 0, out(r));
    assert.is(r.events[0]?.type, 'plan');
    assert.is(r.events[0]?.dryRun, true);
    const said = logs(r);
    for (const s of says) assert.match(said, s, `${args.join(' ')}: ${said}`);
    const after = snapshot();
    for (const [i, root] of roots.entries()) assert.equal(after.hosts[i], before.hosts[i], `${root} changed`);
    assert.equal(after.project, before.project, 'the project directory (.ship cache included) changed');
    assert.is(after.db, before.db, 'the database changed');
  });
}

test('a dry run\'s summary says it was one and names the release it would deploy, never as made', async () => {
  const plain = await ship(['deploy', 'test', '--dry-run'], { cwd: dir });
  assert.is(plain.code, 0, out(plain));
  const line = plain.stdout.split('\n').find((l) => l.startsWith('ship deploy test:'));
  assert.match(line ?? '', /^ship deploy test: dry run ok — would deploy release \d{14}; nothing was changed \(/, plain.stdout);
  const json = await run('deploy', 'test', '--dry-run');
  const summary = json.events.find((e) => e.type === 'summary');
  assert.is(summary?.dryRun, true, json.stdout);
  for (const root of roots) assert.not.ok(existsSync(path.join(root, 'releases', String(summary!.release))), 'the release named was not created');
});

test('the step messages of prune and maintenance say what they would remove and write', async () => {
  const steps = (r: ShipRun, step: string) => r.events.filter((e) => e.type === 'step' && e.step === step && e.host).map((e) => `${e.host} ${e.message}`);
  const p = await run('prune', 'test', '--keep', '1', '--dry-run');
  assert.is(p.code, 0, out(p));
  assert.equal(steps(p, 'prune').sort(), ['host1', 'host2'].map((h) => `${h} would remove ${releases[0]}`));
  const on = await run('maintenance', 'test', 'on', '--dry-run');
  assert.equal(steps(on, 'maintenance').sort(), roots.map((r, i) => `host${i + 1} would write ${path.join(r, 'shared/maintenance.html')}`));
  const off = await run('maintenance', 'test', 'off', '--dry-run');
  assert.equal(steps(off, 'maintenance').sort(), roots.map((r, i) => `host${i + 1} would remove ${path.join(r, 'shared/maintenance.html')}`));
});

test.run();

/**
 * The lease inside a step, over real sshd hosts and a real PostgreSQL: a run whose lock
 * was taken (ship unlock --force, then a second run locks) stops before its next write
 * even in the middle of a long step — here the backfill loop, one step of many batches.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, type SshHosts } from '../harness/sshd.js';
import { collect, ROOT, rmrf, ship, spawnShip, tmpDir, writeConfig, writeTree } from '../harness/ship.js';
import { atExit } from '../harness/reaper.js';
import { sharedSshHosts, sshBlock, sshHosts } from '../harness/stage.js';
import { sharedPostgres, type Postgres } from '../harness/postgres.js';

const RUN = 'psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -v batch={batch} -v after={after} -f {file}';
const ROWS = 300;
const BATCH = 10;

let ssh: SshHosts;
let pg: Postgres;
const dirs: string[] = [];
const test = suite('the lease inside a step');
test.before(async () => {
  [ssh, pg] = await Promise.all([sharedSshHosts(), sharedPostgres()]);
});
const apps: string[] = [];
/** The app processes the two-color test started, killed at exit whatever happens. */
function killApps() {
  for (const f of apps) {
    try {
      if (existsSync(f)) process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}
atExit(killApps);
test.after(() => {
  killApps();
  dirs.forEach(rmrf);
});

type Line = Record<string, any>;
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An `item` table of ROWS rows and a keyset backfill whose every batch sleeps a little. */
const MIGRATIONS = {
  'VERSION': '1\n',
  'migrations/001_item.expand.sql': `create table item (id int primary key, filled boolean);\ninsert into item (id) select generate_series(1, ${ROWS});\n`,
  'migrations/002_fill.backfill.sql': [
    "select coalesce(nullif(:'after', ''), '0')::int as after \\gset",
    'select pg_sleep(0.3) as slept \\gset',
    'select :after + :batch as last \\gset',
    'with moved as (update item set filled = true where id > :after and id <= :last and filled is null returning 1)',
    'select count(*) as rows from moved \\gset',
    'select greatest(coalesce(max(id), 0) - :last, 0) as remaining from item \\gset',
    '\\echo rows=:rows last=:last remaining=:remaining',
    '',
  ].join('\n'),
};

test('a backfill whose lock is forced away mid-loop stops before its next batch; the new holder finishes: each batch in the ledger once, one done', async () => {
  const sub = 'leasebf';
  const dir = tmpDir('ship-lease-');
  dirs.push(dir);
  const url = pg.createDatabase(sub);
  const configure = (backfill: Record<string, unknown>) =>
    writeConfig(dir, {
      app: 'items',
      ssh: sshBlock(ssh),
      stages: { test: { hosts: sshHosts(ssh, sub, 1), build: { dir: 'build' }, env: { DATABASE_URL: url }, migrations: { run: RUN, backfill } } },
    });
  writeTree(path.join(dir, 'build'), MIGRATIONS);
  const ledgerFile = path.join(ssh.hosts[0].deployRoot, sub, '.ship/migrations.jsonl');
  const backfills = (): Line[] =>
    existsSync(ledgerFile)
      ? readFileSync(ledgerFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e: Line) => e.phase === 'backfill')
      : [];

  // Live with one batch done, so that a plain `ship migrate --backfill` resumes it.
  configure({ batch: BATCH, pause: '0ms', maxBatches: 1 });
  const d = await ship(['deploy', 'test'], { cwd: dir });
  assert.is(d.code, 0, out(d));
  assert.is(backfills().length, 1);

  configure({ batch: BATCH, pause: '0ms' });
  const a = spawnShip(['migrate', 'test', '--backfill', '--json'], { cwd: dir });
  const aDone = collect(a, true);
  while (backfills().length < 4 && a.exitCode === null) await sleep(50);
  assert.is(a.exitCode, null, 'the first run is still backfilling');

  const forced = await ship(['unlock', 'test', '--force'], { cwd: dir });
  assert.is(forced.code, 0, out(forced));
  const atUnlock = backfills().length;
  const b = await ship(['migrate', 'test', '--backfill', '--json'], { cwd: dir });
  assert.is(b.code, 0, out(b));

  const ra = await aDone;
  assert.is(ra.code, 3, out(ra));
  assert.match(out(ra), 'this run lost its lock');
  const aBatches = ra.events.filter((e) => e.type === 'backfill').map((e) => e.batch);
  // The batch in flight at the unlock may have checked the lease just before it.
  assert.ok(aBatches.length <= atUnlock, `the first run recorded no batch after the unlock (${aBatches.join(',')}; ${atUnlock} lines at the unlock)`);

  const bf = backfills();
  assert.equal(bf.map((e) => e.batch), bf.map((_, i) => i + 1), 'batches numbered 1..n, each once');
  assert.equal(bf.map((e) => e.state).filter((s) => s === 'done'), ['done'], 'one done line');
  assert.is(bf.at(-1)!.state, 'done');
  assert.equal(bf.map((e) => Number(e.last)), bf.map((_, i) => (i + 1) * BATCH), 'keys contiguous: no batch recorded twice, none skipped');
  assert.is(pg.psql(url, 'select count(*) from item where filled is null'), '0');
});

const START = `mkdir -p "$SHIP_DEPLOY_TO"/run; nohup ${process.execPath} server.mjs --port {port} > "$SHIP_DEPLOY_TO"/run/{color}.log 2>&1 < /dev/null & echo $! > "$SHIP_DEPLOY_TO"/run/{color}.pid`;
const STOP = `p=$(cat "$SHIP_DEPLOY_TO"/run/{color}.pid 2>/dev/null) || exit 0; kill "$p" 2>/dev/null || exit 0; while kill -0 "$p" 2>/dev/null; do sleep 0.05; done`;
/** A drain hook that holds where `$SHIP_DEPLOY_TO/hold` exists, until `$SHIP_DEPLOY_TO/go` does. */
const HOLD = 'if [ -f "$SHIP_DEPLOY_TO/hold" ]; then touch "$SHIP_DEPLOY_TO/reached"; while [ ! -f "$SHIP_DEPLOY_TO/go" ]; do sleep 0.1; done; fi';

test('two colors, rolling: a run whose lock is forced away between batches routes no later batch and reverts no host it no longer holds', async () => {
  const sub = 'leasebg';
  const dir = tmpDir('ship-lease-bg-');
  dirs.push(dir);
  const hosts = await Promise.all(
    ssh.hosts.slice(0, 2).map(async (h) => ({ name: h.name, sshPort: h.port, deployTo: path.join(h.deployRoot, sub), blue: await freePort(), green: await freePort() })),
  );
  for (const h of hosts) apps.push(path.join(h.deployTo, 'run/blue.pid'), path.join(h.deployTo, 'run/green.pid'));
  writeConfig(dir, {
    app: 'shop',
    build: { dir: 'app' },
    ssh: sshBlock(ssh),
    processes: { start: START, stop: STOP },
    healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: 'release={release}', retries: 40, interval: '250ms', timeout: '2s' },
    router: { reload: 'true' },
    strategy: { type: 'rolling', batchSize: 1 },
    hooks: { drain: HOLD },
    stages: { test: { hosts: hosts.map((h) => ({ name: h.name, host: '127.0.0.1', port: h.sshPort, user: ssh.user, deployTo: h.deployTo, ports: { blue: h.blue, green: h.green } })) } },
  });
  const build = path.join(dir, 'app');
  const version = (v: string) => writeTree(build, { 'VERSION': `${v}\n` });
  cpSync(path.join(ROOT, 'fixtures/bluegreen-app/server.mjs'), path.join(build, 'server.mjs'));
  const state = (h: (typeof hosts)[number]) => JSON.parse(readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8'));
  const current = (h: (typeof hosts)[number]) => readFileSync(path.join(h.deployTo, 'current/VERSION'), 'utf8').trim();

  version('v1');
  const first = await ship(['deploy', 'test'], { cwd: dir });
  assert.is(first.code, 0, out(first));
  const before = hosts.map(state);
  for (const st of before) assert.is(st.weights[st.live], 100);

  // The second batch (host2) holds in its drain hook: the lock is forced away meanwhile.
  const [h1, h2] = hosts;
  writeFileSync(path.join(h2.deployTo, 'hold'), '');
  version('v2');
  const a = spawnShip(['deploy', 'test'], { cwd: dir });
  const aDone = collect(a, false);
  try {
    while (!existsSync(path.join(h2.deployTo, 'reached')) && a.exitCode === null) await sleep(50);
    assert.is(a.exitCode, null, 'the run holds in the second batch');
    assert.is.not(state(h1).live, before[0].live, 'the first batch routes to the new color');
    const forced = await ship(['unlock', 'test', '--force'], { cwd: dir });
    assert.is(forced.code, 0, out(forced));
  } finally {
    writeFileSync(path.join(h2.deployTo, 'go'), '');
  }
  const ra = await aDone;
  assert.is(ra.code, 3, out(ra));
  assert.match(ra.stderr, 'this run lost its lock');
  const after2 = state(h2);
  assert.is(after2.live, before[1].live, 'host2: the router was not changed after the lock was lost');
  assert.equal(after2.weights, before[1].weights);
  for (const h of hosts) assert.is(current(h), 'v1', `${h.name}: current never flipped`);
  // host1's lock is not this run's any more either: its router is left as the run found it after the loss.
  assert.is.not(state(h1).live, before[0].live, 'host1 not reverted: its lock is no longer this run\'s');
  assert.match(ra.stderr, 'not reverted');
});

test.run();

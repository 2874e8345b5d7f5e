/**
 * Two colors per host, for real: on each of two sshd hosts, ship starts each release as its
 * own `node server.mjs --port {port}` (fixtures/bluegreen-app) on the blue or green port,
 * and a real nginx per host (templates/nginx-bluegreen.conf, running as the deploy user so
 * that user can reload it) routes by the upstream file ship writes. A bounded load client
 * (test/harness/load.ts) requests pages through both nginxes while ship deploys, rolls
 * back, and walks canaries. The tests run in order on the same hosts:
 *
 *   1. blue → green → rollback → green again, browser-like (cookies, a page then its lazy
 *      chunks): no failed request; each switch shows through nginx; the old color answers
 *      until the router moved away, and a rollback starts no process.
 *   2. a canary answering 500 to a fifth of its requests stops at its first step: all
 *      traffic back on the old color; the only failed requests are the canary's 500s.
 *   3. a release whose process does not start, or fails its health check, gets no traffic.
 *   4. a healthy canary walks every step to 100 %; keepOld 'none' stops the old color.
 *   5. --pause holds a canary at its first step; ship switch finishes it; after a second
 *      paused canary, ship rollback abandons it.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTemplate } from '../../src/commands/init.js';
import { fetchText } from '../harness/http.js';
import { describeFailures, startLoad, type LoadReport, type LoadRun, type Response, type Sample, type Verdict } from '../harness/load.js';
import { startNginx, type Nginx } from '../harness/nginx.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import { atExit } from '../harness/reaper.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { chownTree, killColorApps, layout, sshBlock } from '../harness/stage.js';

const test = suite('two colors per host behind nginx');
let ssh: SshHosts;
const nginxes: Nginx[] = [];
const dirs: string[] = [];
let load: LoadRun | undefined;
let dir: string;
let build: string;
let hosts: Array<{ name: string; sshPort: number; deployTo: string; web: number; blue: number; green: number }>;
const figures: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const versionOf = (body: string) => /data-version="([^"]+)"/.exec(body)?.[1];
const url = (h: (typeof hosts)[number], p = '/') => `http://127.0.0.1:${h.web}${p}`;

const START = `mkdir -p "$SHIP_DEPLOY_TO"/run; nohup ${process.execPath} server.mjs --port {port} > "$SHIP_DEPLOY_TO"/run/{color}.log 2>&1 < /dev/null & echo $! > "$SHIP_DEPLOY_TO"/run/{color}.pid`;
const STOP = `p=$(cat "$SHIP_DEPLOY_TO"/run/{color}.pid 2>/dev/null) || exit 0; kill "$p" 2>/dev/null || exit 0; while kill -0 "$p" 2>/dev/null; do sleep 0.05; done`;

function config(over: { strategy?: object; keepOld?: 'next-deploy' | 'none'; reload?: string; start?: string } = {}) {
  return {
    app: 'shop',
    build: { dir: 'app' },
    keepReleases: 10,
    ssh: sshBlock(ssh),
    processes: { start: over.start ?? START, stop: STOP, ...(over.keepOld ? { keepOld: over.keepOld } : {}) },
    healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: 'release={release}', retries: 20, interval: '250ms', timeout: '2s' },
    assets: { dirs: ['public/chunks'], keep: 3 },
    hooks: { 'after:switch': 'echo "$SHIP_COLOR $SHIP_PORT $SHIP_RELEASE" > "$SHIP_DEPLOY_TO"/hook-env' },
    router: { reload: over.reload ?? 'sh "$SHIP_DEPLOY_TO"/reload-router.sh' },
    ...(over.strategy ? { strategy: over.strategy } : {}),
    stages: {
      production: {
        hosts: hosts.map((h) => ({ name: h.name, host: '127.0.0.1', port: h.sshPort, user: ssh.user, deployTo: h.deployTo, ports: { blue: h.blue, green: h.green } })),
      },
    },
  };
}

/** The build of one version: its page's chunks, and files that make it misbehave. */
function writeVersion(v: string, extra: Record<string, string> = {}) {
  for (const f of ['FAIL_EVERY', 'BROKEN_START', 'HEALTH_STATUS']) rmSync(path.join(build, f), { force: true });
  rmSync(path.join(build, 'public'), { recursive: true, force: true });
  mkdirSync(build, { recursive: true });
  cpSync(path.join(ROOT, 'fixtures/bluegreen-app/server.mjs'), path.join(build, 'server.mjs'));
  const files: Record<string, string> = { VERSION: `${v}\n`, [`public/chunks/${v}-a.js`]: `// chunk ${v}-a\n`, [`public/chunks/${v}-b.js`]: `// chunk ${v}-b\n`, ...extra };
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(build, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

function deploy(args: string[] = []): Promise<ShipRun> {
  return ship(['deploy', 'production', '--json', ...args], { cwd: dir });
}

const state = (h: (typeof hosts)[number]) => JSON.parse(readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8'));
const pidOf = (h: (typeof hosts)[number], color: string) => readFileSync(path.join(h.deployTo, 'run', `${color}.pid`), 'utf8').trim();

async function answers(port: number): Promise<string | undefined> {
  try {
    const r = await fetchText(`http://127.0.0.1:${port}/healthz`);
    return /release=(\S+)/.exec(r.body)?.[1];
  } catch {
    return undefined;
  }
}

/** Polls a host's nginx (fresh connection, no cookie) until it serves `v` (10 s at most); ms waited. */
async function waitForVersion(h: (typeof hosts)[number], v: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const got = versionOf((await fetchText(url(h))).body);
    if (got === v) return Date.now() - t0;
    if (Date.now() - t0 > 10_000) assert.unreachable(`${h.name}: nginx still serves ${got}, not ${v}`);
    await sleep(20);
  }
}

/** After waitForVersion: every one of n requests gets v. */
async function allServe(h: (typeof hosts)[number], v: string, n = 10) {
  for (let i = 0; i < n; i++) assert.is(versionOf((await fetchText(url(h))).body), v, `${h.name}: request ${i} after the switch`);
}

/** Versions seen through nginx, per host, in order. */
const seen: Array<{ t: number; host: string; version: string; kind: string }> = [];

/** A browser: the page, then its lazy chunks (each must be 200 and that version's). */
function browserCheck(host: string) {
  return (r: Response): Verdict => {
    if (r.status !== 200) return { ok: false, reason: `status ${r.status}: ${r.body.slice(0, 120)}` };
    const v = versionOf(r.body);
    if (!v || !r.body.includes(`<p>end of version ${v}</p>`)) return { ok: false, reason: `incomplete page (${r.body.length} bytes)` };
    seen.push({ t: Date.now(), host, version: v, kind: 'page' });
    const chunks = [...r.body.matchAll(/src="([^"]+)"/g)].map((m) => m[1]);
    return {
      ok: true,
      follow: chunks.map((c) => ({
        url: new URL(c, r.url).href,
        check: (cr: Response): Verdict =>
          cr.status === 200 && cr.body.includes(`// chunk ${path.basename(c, '.js')}`)
            ? { ok: true }
            : { ok: false, reason: `chunk ${c} of version ${v}: status ${cr.status} ${cr.body.slice(0, 80)}` },
      })),
    };
  };
}

function startBrowsers(cookies: boolean | 'per-page'): LoadRun {
  const pages = hosts.flatMap((h) => ['/', '/page'].map((p) => ({ u: url(h, p), c: browserCheck(h.name) })));
  const checks = new Map(pages.map((p) => [p.u, p.c]));
  // A worker per host and page, so each host gets a steady stream.
  return startLoad({ urls: pages.map((p) => p.u), check: (r) => checks.get(r.url)!(r), workers: 4, pauseMs: 3, maxMs: 600_000, cookies });
}

function phase(name: string, report: LoadReport, extra = '') {
  const line = `  ${name}: ${report.requests} requests in ${(report.ms / 1000).toFixed(1)} s, ${report.failures.length} failed, ${report.retried} retried on a reused keep-alive connection${extra ? `; ${extra}` : ''}`;
  figures.push(line);
  process.stderr.write(`${line}\n`);
}

/** The end of a run's output, for assertion messages. */
const tail = (r: ShipRun) => `${r.stderr}\n${r.stdout.split('\n').slice(-12).join('\n')}`;

const eventTime = (r: ShipRun, pred: (e: Record<string, any>) => boolean) => {
  const e = r.events.find(pred);
  return e ? Date.parse(e.time) : NaN;
};

/** The app processes the tests started, killed at exit whatever happens. */
function killApps() {
  killColorApps((hosts ?? []).map((h) => h.deployTo));
}

test.before(async () => {
  atExit(killApps);
  ssh = await sharedSshHosts();
  const sub = `bg-${randomBytes(3).toString('hex')}`;
  hosts = await Promise.all(
    ssh.hosts.slice(0, 2).map(async (h) => ({
      name: `bg-${h.name}`,
      sshPort: h.port,
      deployTo: path.join(h.deployRoot, sub),
      web: await freePort(),
      blue: await freePort(),
      green: await freePort(),
    })),
  );
  dir = tmpDir('ship-bluegreen-');
  dirs.push(dir);
  build = path.join(dir, 'app');
});

test.after(async () => {
  await load?.stop();
  killApps();
  for (const n of nginxes) await n.stop();
  dirs.forEach(rmrf);
  if (figures.length) process.stderr.write(`\ntwo colors, 2 hosts, figures:\n${figures.join('\n')}\n`);
});

test('blue → green → rollback → green again under a browser-like load: no failed request', async () => {
  // First deploy: nothing routes yet, so no router reload; then nginx starts on the router file.
  writeVersion('1');
  writeConfig(dir, config({ reload: 'true' }));
  const first = await deploy();
  assert.is(first.code, 0, `${first.stderr}\n${first.stdout}`);
  for (const h of hosts) {
    const s = state(h);
    assert.is(s.live, 'blue');
    assert.equal(s.weights, { blue: 100, green: 0 });
    assert.is(await answers(h.blue), s.releases.blue, 'blue runs the first release');
    assert.is(layout(h.deployTo).current, `releases/${s.releases.blue}`);
  }
  const owner = { uid: ssh.uid, gid: ssh.gid };
  for (const h of hosts) {
    // The file mode (router.reload): this nginx runs as the deploy user and reads what it writes.
    const site = (await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: h.deployTo, listen: `127.0.0.1:${h.web}`, serverName: 'localhost' }))
      .replaceAll('include /etc/nginx/ship/shop.conf;', `include ${h.deployTo}/.ship/router/upstream.conf;`)
      .replaceAll('/var/log/nginx/shop-colors.log', `${h.deployTo}/.ship/router/access.log`);
    const n = await startNginx({ servers: [site], ports: [h.web], owner });
    nginxes.push(n);
    writeFileSync(path.join(h.deployTo, 'reload-router.sh'), `${n.reloadCommand}\n`);
    chownTree(ssh, path.join(h.deployTo, 'reload-router.sh'));
    assert.is(versionOf((await fetchText(url(h))).body), '1', n.log());
  }
  writeConfig(dir, config());

  load = startBrowsers(true);
  await sleep(1500);
  const t0 = Date.now();
  const visible: number[] = [];
  const oldUntilRoute: boolean[] = [];

  async function step(what: string, run: () => Promise<ShipRun>, v: string, oldV: string) {
    const r = await run();
    assert.is(r.code, 0, `${what}: ${r.stderr}\n${r.stdout}`);
    for (const h of hosts) {
      visible.push(await waitForVersion(h, v));
      await allServe(h, v);
      // Until this host's router changed, its old release kept answering through nginx.
      const routed = eventTime(r, (e) => e.type === 'route' && e.host === h.name);
      const before = seen.filter((s) => s.host === h.name && s.t >= Date.parse(r.events[0].time) && s.t < routed);
      oldUntilRoute.push(before.length > 0 && before.every((s) => s.version === oldV));
    }
    return r;
  }

  const d2 = await step('deploy of 2', () => (writeVersion('2'), deploy()), '2', '1');
  const toFull = eventTime(d2, (e) => e.type === 'route' && e.host === hosts[1].name) - Date.parse(d2.events[0].time);
  const r1 = hosts.map((h) => state(h).releases.blue as string);
  for (const [i, h] of hosts.entries()) {
    const s = state(h);
    assert.is(s.live, 'green');
    assert.is(readFileSync(path.join(h.deployTo, 'hook-env'), 'utf8'), `green ${h.green} ${s.releases.green}\n`, 'hooks see SHIP_COLOR and SHIP_PORT');
    assert.is(await answers(h.blue), r1[i], 'the old color keeps running (keepOld: next-deploy)');
    assert.is(layout(h.deployTo).current, `releases/${s.releases.green}`);
  }

  const bluePids = hosts.map((h) => pidOf(h, 'blue'));
  const rb = await step('rollback', () => ship(['rollback', 'production', '--json'], { cwd: dir }), '1', '2');
  const rollbackMs = eventTime(rb, (e) => e.type === 'summary') - Date.parse(rb.events[0].time);
  for (const [i, h] of hosts.entries()) {
    const s = state(h);
    assert.is(s.live, 'blue');
    assert.is(pidOf(h, 'blue'), bluePids[i], 'a rollback starts no process');
    assert.is(await answers(h.green), s.releases.green, 'the color left keeps running');
    assert.is(layout(h.deployTo).current, `releases/${r1[i]}`, 'current is back on the first release');
  }
  assert.not.ok(rb.events.some((e) => e.type === 'step' && e.step === 'start' && e.host && /started/.test(e.message ?? '')), 'no process started');

  await step('deploy of 3', () => (writeVersion('3'), deploy()), '3', '1');
  for (const h of hosts) {
    const s = state(h);
    assert.is(s.live, 'green', 'the new release went to the idle color (green, where 2 was stopped)');
    assert.is(await answers(h.blue), s.releases.blue, 'blue (1) still runs');
  }
  await sleep(1000);
  const report = await load.stop();
  load = undefined;
  phase('blue-green (blue → green → rollback → green)', report, `${seen.length} pages`);
  figures.push(`  deploy → 100 % traffic on every host (blue-green): ${toFull} ms; rollback (whole command): ${rollbackMs} ms`);
  figures.push(`  switch visible through nginx after ship exited: ${visible.map((v) => `${v} ms`).join(', ')}`);
  if (report.failures.length) process.stderr.write(`failed requests:\n${describeFailures(report.failures, 30)}\n`);
  assert.is(report.failures.length, 0, describeFailures(report.failures));
  assert.ok(oldUntilRoute.every(Boolean), `the old release answered until each router change: ${oldUntilRoute}`);
  const versions = new Set(seen.map((s) => s.version));
  assert.equal([...versions].sort(), ['1', '2', '3'], `pages seen: ${JSON.stringify(seen.slice(-5))}, load ${report.ms} ms`);
  const chunkLoads = report.samples.filter((s) => s.kind === 'follow').length;
  assert.ok(chunkLoads > 100, `lazy chunks were loaded (${chunkLoads})`);
  assert.ok(Date.now() - t0 > 0);
});

test('a canary answering 500 to a fifth of its requests stops at its first step, all traffic back on the old color', async () => {
  writeConfig(dir, config({ strategy: { steps: [10, 50, 100], stepTime: '2s', gates: { minRequests: 20 } } }));
  const before = hosts.map((h) => state(h));
  writeVersion('4', { FAIL_EVERY: '5' });
  seen.length = 0;
  load = startBrowsers('per-page');
  await sleep(1000);
  const r = await deploy();
  await sleep(1500);
  const report = await load.stop();
  load = undefined;
  assert.is(r.code, 1, `${r.stderr}\n${r.stdout}`);
  const err = r.events.find((e) => e.type === 'error');
  assert.match(err?.message ?? '', /step 1 \(10 %\).*errorRate/);
  assert.match(err?.message ?? '', /the old release: \d+ requests/);
  const failedStep = r.events.find((e) => e.type === 'canary' && e.status === 'failed');
  assert.is(failedStep?.step, 1);
  assert.is(failedStep?.gate, 'errorRate');
  assert.ok(failedStep?.figures.new.errors > 0 && failedStep?.figures.old.errors === 0, JSON.stringify(failedStep?.figures));
  assert.not.ok(r.events.some((e) => e.type === 'canary' && e.step === 2), 'never reached step 2');
  for (const [i, h] of hosts.entries()) {
    const s = state(h);
    assert.is(s.live, 'green');
    assert.equal(s.weights, { blue: 0, green: 100 });
    assert.is(s.releases.green, before[i].releases.green);
    assert.is(s.releases.blue, undefined, 'the failed canary was stopped');
    assert.is(await answers(h.blue), undefined);
    await allServe(h, '3');
    const failed = layout(h.deployTo).history.find((e: any) => e.action === 'failure');
    assert.ok(failed, 'the release is recorded failed');
  }
  // The only failures the clients saw are the 500s the canary answered, during its step.
  const stepStart = eventTime(r, (e) => e.type === 'route');
  const back = Date.parse(r.events.filter((e) => e.type === 'route').at(-1)!.time);
  const others = report.failures.filter((f) => !(f.status === 500 && f.start >= stepStart - 1000 && f.start <= back + 1000));
  const canary500 = report.failures.length - others.length;
  phase('bad canary (10 % step, 1 in 5 answers 500)', report, `${canary500} failed requests, all 500s from the canary during its step; gate: ${failedStep?.message}`);
  if (others.length) process.stderr.write(`other failures:\n${describeFailures(others, 20)}\n`);
  assert.is(others.length, 0, describeFailures(others));
  assert.ok(canary500 > 0, 'the canary did take traffic');
});

test('a release whose process does not start, or fails its health check, never gets traffic', async () => {
  writeConfig(dir, config());
  const routerBefore = hosts.map((h) => readFileSync(path.join(h.deployTo, '.ship/router/upstream.conf'), 'utf8'));
  seen.length = 0;
  load = startBrowsers(true);
  await sleep(500);
  writeVersion('5', { BROKEN_START: '1' });
  const broken = await deploy();
  writeVersion('6', { HEALTH_STATUS: '503' });
  const sick = await deploy();
  writeConfig(dir, config({ start: 'echo cannot start >&2; exit 3' }));
  writeVersion('7');
  const failing = await deploy();
  writeConfig(dir, config());
  await sleep(500);
  const report = await load.stop();
  load = undefined;
  phase('releases that fail to start or fail health (3 deploys)', report);
  for (const [r, what] of [[broken, 'no process'], [sick, 'health 503'], [failing, 'start exits 3']] as const) {
    assert.is(r.code, 1, `${what}: ${r.stderr}`);
    assert.not.ok(r.events.some((e) => e.type === 'route'), `${what}: the router was not touched`);
  }
  assert.match(failing.stdout, 'cannot start');
  for (const [i, h] of hosts.entries()) {
    assert.is(readFileSync(path.join(h.deployTo, '.ship/router/upstream.conf'), 'utf8'), routerBefore[i]);
    assert.is(state(h).live, 'green');
    await allServe(h, '3');
  }
  assert.ok(seen.every((s) => s.version === '3'), 'only the live release answered');
  assert.is(report.failures.length, 0, describeFailures(report.failures));
});

test('a healthy canary walks every step to 100 %; keepOld none stops the old color', async () => {
  writeConfig(dir, config({ keepOld: 'none', strategy: { steps: [10, 50, 100], stepTime: '2s', gates: { minRequests: 20, p95: 5 } } }));
  const oldGreen = hosts.map((h) => state(h).releases.green);
  writeVersion('8');
  seen.length = 0;
  load = startBrowsers('per-page');
  await sleep(1000);
  const r = await deploy();
  await sleep(500);
  const report = await load.stop();
  load = undefined;
  assert.is(r.code, 0, `${r.stderr}\n${r.stdout}`);
  const passed = r.events.filter((e) => e.type === 'canary' && e.status === 'passed');
  assert.equal(passed.map((e) => e.percent), [10, 50]);
  for (const p of passed) assert.ok(p.figures.new.requests >= 20 && p.figures.old.requests > 0, JSON.stringify(p.figures));
  for (const [i, h] of hosts.entries()) {
    const s = state(h);
    assert.is(s.live, 'blue');
    assert.equal(s.weights, { blue: 100, green: 0 });
    assert.is(s.releases.green, undefined, 'the old color was stopped (keepOld: none)');
    assert.is(await answers(h.green), undefined, `${oldGreen[i]} no longer answers`);
    assert.is(layout(h.deployTo).current, `releases/${s.releases.blue}`);
    await allServe(h, '8');
  }
  const toFull = eventTime(r, (e) => e.type === 'route' && e.weights?.blue === 100) - Date.parse(r.events[0].time);
  const mixed = new Set(seen.map((s) => s.version));
  phase('healthy canary 10 → 50 → 100 %', report, `deploy → 100 % traffic: ${toFull} ms; step figures: ${passed.map((p) => `${p.percent} %: new ${p.figures.new.requests} req / old ${p.figures.old.requests} req`).join(', ')}`);
  assert.equal([...mixed].sort(), ['3', '8'], 'both releases answered while the canary walked');
  assert.is(report.failures.length, 0, describeFailures(report.failures));
});

test('--pause holds the canary at its first step; ship switch finishes it; ship rollback abandons one', async () => {
  writeConfig(dir, config({ strategy: { steps: [20, 100], stepTime: '1s', gates: { minRequests: 5, p95: 5 } } }));
  seen.length = 0;
  load = startBrowsers('per-page');
  await sleep(500);
  writeVersion('9');
  const paused = await deploy(['--pause']);
  assert.is(paused.code, 0, `${paused.stderr}\n${paused.stdout}`);
  assert.match(paused.events.at(-1)?.message ?? '', 'ship switch production');
  for (const h of hosts) {
    const s = state(h);
    assert.is(s.canary?.color, 'green');
    assert.equal(s.weights, { blue: 80, green: 20 });
    assert.is(layout(h.deployTo).current, `releases/${s.releases.blue}`, 'current stays while the canary is held');
  }
  const cont = await ship(['switch', 'production', '--json'], { cwd: dir });
  assert.is(cont.code, 0, `${cont.stderr}\n${cont.stdout}`);
  for (const h of hosts) {
    const s = state(h);
    assert.is(s.canary, undefined);
    assert.equal(s.weights, { blue: 0, green: 100 });
    assert.is(layout(h.deployTo).current, `releases/${s.releases.green}`);
    await allServe(h, '9');
  }

  writeVersion('10');
  const held = await deploy(['--pause']);
  assert.is(held.code, 0, tail(held));
  const abandoned = await ship(['rollback', 'production', '--json'], { cwd: dir });
  assert.is(abandoned.code, 0, tail(abandoned));
  for (const h of hosts) {
    const s = state(h);
    assert.is(s.canary, undefined);
    assert.equal(s.weights, { blue: 0, green: 100 });
    await allServe(h, '9');
    const l = layout(h.deployTo);
    assert.is(l.current, `releases/${s.releases.green}`, 'current never moved');
    const canaryId = s.releases.blue;
    assert.ok(l.history.some((e: any) => e.action === 'rollback' && e.states?.[canaryId] === 'rolled-back'));
  }
  await sleep(300);
  const report = await load.stop();
  load = undefined;
  phase('--pause, ship switch, --pause, ship rollback', report);
  assert.is(report.failures.length, 0, describeFailures(report.failures));
});

test('--dry-run in two-color mode says what it would start and route, and changes nothing', async () => {
  writeConfig(dir, config());
  const before = hosts.map((h) => [readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8'), readFileSync(path.join(h.deployTo, '.ship/router/upstream.conf'), 'utf8'), layout(h.deployTo).releases.join(' ')]);
  writeVersion('11');
  const r = await deploy(['--dry-run']);
  assert.is(r.code, 0, tail(r));
  const logs = r.events.filter((e) => e.type === 'log').map((e) => e.message).join('\n');
  assert.match(logs, /would stop \S+ on blue, then start \S+ on blue/);
  assert.match(logs, /would route all traffic to blue/);
  for (const [i, h] of hosts.entries()) {
    assert.equal([readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8'), readFileSync(path.join(h.deployTo, '.ship/router/upstream.conf'), 'utf8'), layout(h.deployTo).releases.join(' ')], before[i]);
  }
});

test.run();

/**
 * Zero downtime, PHP: two sshd hosts, each with a real php-fpm 8.2 (OPcache on,
 * validate_timestamps=0) and a real nginx, both made from the files `ship init --template
 * php-fpm` writes, edited only where a PHP team edits them (paths, ports, socket, user).
 * A three-file app (fixtures/php-app: index, config and lib each name their release) is
 * deployed 5 times and rolled back twice under a bounded load: no request fails, no
 * response mixes files of two releases, and from 1 s after ship exits every response
 * names the release ship made live. Run once with the stage's php-fpm reload (the config
 * ship writes) and once with no reload (the documented alternative). Figures are printed.
 */
import { cpSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailures, quantile, startLoad, within, type LoadRun, type Response, type Sample, type Verdict } from '../harness/load.js';
import { startNginx, type Nginx } from '../harness/nginx.js';
import { fpmPrefix, startPhpFpm, type PhpFpm } from '../harness/php-fpm.js';
import { ROOT, rmrf, ship, tmpDir, type ShipRun } from '../harness/ship.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { sshBlock } from '../harness/stage.js';
import { fetchText } from '../harness/http.js';

const test = suite('zero downtime: PHP on php-fpm behind nginx');
let ssh: SshHosts;
const stops: Array<() => Promise<unknown>> = [];
const dirs: string[] = [];
let load: LoadRun | undefined;
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after.each(async () => {
  await load?.stop();
  load = undefined;
  for (const s of stops.splice(0).reverse()) await s();
});
test.after(() => dirs.forEach(rmrf));

interface Web {
  name: string;
  port: number;
  deployTo: string;
  fpm: PhpFpm;
}

/** `index=r3 config=r3 lib=r3 file=… end`: the release each of the three files names. */
function parts(body: string): { index: string; config: string; lib: string; file: string } | undefined {
  const m = /^index=(\S+) config=(\S+) lib=(\S+) file=(\S+)\nend\n$/.exec(body);
  return m ? { index: m[1], config: m[2], lib: m[3], file: m[4] } : undefined;
}

/** Writes release name `v` into the app's three files (what a commit between deploys does). */
function setRelease(dir: string, v: string): void {
  for (const f of ['public/index.php', 'config/app.php', 'src/lib.php']) {
    const p = path.join(dir, f);
    writeFileSync(p, readFileSync(p, 'utf8').replace(/'r\d+'/g, `'${v}'`));
  }
}

/** The project as a PHP team has it after `ship init --template php-fpm --format json`. */
async function initProject(): Promise<{ dir: string; slug: string; config: Record<string, any> }> {
  const dir = tmpDir('ship-zd-php-');
  dirs.push(dir);
  cpSync(path.join(ROOT, 'fixtures/php-app'), dir, { recursive: true });
  const r = await ship(['init', '--template', 'php-fpm', '--format', 'json'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(path.join(dir, 'ship.config.json'), 'utf8'));
  // A PHP config: Composer's production install as the build, php-fpm's reload, nothing of Node.
  assert.match(config.build.command, 'composer install --no-dev --optimize-autoloader');
  assert.match(config.reload, 'reload php8.2-fpm');
  assert.not.ok(config.env?.NODE_ENV, 'no NODE_ENV');
  assert.not.match(JSON.stringify(config), /pm2|npm/);
  return { dir, slug: config.app, config };
}

/** deploy/php-fpm/{nginx,pool}.conf edited for one test host: paths, port, socket, user. */
function serverFiles(dir: string, slug: string, w: { port: number; deployTo: string; socket: string }, opts: { poolEdit?: (pool: string) => string } = {}) {
  const fill = (f: string) =>
    readFileSync(path.join(dir, 'deploy/php-fpm', f), 'utf8')
      .replaceAll(`/var/www/${slug}`, w.deployTo)
      .replaceAll(`/run/php/${slug}.sock`, w.socket);
  const site = fill('nginx.conf')
    .replace(/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${w.port};`)
    .replace('include fastcgi_params;', 'include /etc/nginx/fastcgi_params;');
  let pool = fill('pool.conf')
    .replace(/^(user|group) = deploy$/gm, `$1 = ${ssh.user}`)
    .replace(/^listen\.(owner|group) = www-data$/gm, `listen.$1 = ${ssh.user}`);
  if (opts.poolEdit) pool = opts.poolEdit(pool);
  assert.match(site, `listen 127.0.0.1:${w.port};`);
  assert.match(site, `fastcgi_pass unix:${w.socket};`);
  assert.match(pool, `listen = ${w.socket}`);
  return { site, pool };
}

/** Two hosts with php-fpm and nginx running before anything is deployed. */
async function startHosts(dir: string, slug: string, opts: { poolEdit?: (pool: string) => string } = {}): Promise<{ webs: Web[]; nginx: Nginx }> {
  const sub = `zd-php-${randomBytes(3).toString('hex')}`;
  const owner = { uid: ssh.uid, gid: ssh.gid };
  const webs: Web[] = [];
  const sites: string[] = [];
  for (const [i, h] of ssh.hosts.slice(0, 2).entries()) {
    const prefix = fpmPrefix(owner);
    const w = { port: await freePort(), deployTo: path.join(h.deployRoot, sub), socket: path.join(prefix, 'app.sock') };
    const { site, pool } = serverFiles(dir, slug, w, opts);
    // php-fpm starts with nothing deployed: the pool does not chdir into current/.
    const fpm = await startPhpFpm({ prefix, pool, socket: w.socket, owner });
    stops.push(() => fpm.stop());
    webs.push({ name: `web${i + 1}`, port: w.port, deployTo: w.deployTo, fpm });
    sites.push(site);
  }
  const nginx = await startNginx({ servers: sites, ports: webs.map((w) => w.port), owner });
  stops.push(() => nginx.stop());
  return { webs, nginx };
}

function stageConfig(config: Record<string, any>, webs: Web[], reload: string | undefined): Record<string, any> {
  const c: Record<string, any> = { ...config, ssh: sshBlock(ssh) };
  if (reload) c.reload = reload;
  else delete c.reload;
  c.stages = {
    production: { hosts: webs.map((w, i) => ({ name: w.name, host: '127.0.0.1', port: ssh.hosts[i].port, user: ssh.user, deployTo: w.deployTo })) },
  };
  return c;
}

interface Figures {
  requests: number;
  failed: number;
  mixed: number;
  stale: number;
  retried: number;
  perStep: string[];
  latency: string;
}

/**
 * Deploy r1, then under load: deploy, deploy, rollback, deploy, deploy, rollback, deploy.
 * Returns the figures; asserts nothing about failures (the caller does).
 */
async function run5and2(dir: string, webs: Web[], nginx: Nginx): Promise<Figures> {
  const releaseName = new Map<string, string>();
  const runs: Array<{ r: ShipRun; start: number; exit: number; live: string; label: string }> = [];
  async function shipRun(label: string, args: string[], v?: string): Promise<string> {
    if (v) setRelease(dir, v);
    const start = Date.now();
    const r = await ship([...args, '--json'], { cwd: dir });
    const exit = Date.now();
    assert.is(r.code, 0, `ship ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n${nginx.log()}\n${webs.map((w) => w.fpm.log()).join('\n')}`);
    const release = r.events.at(-1)!.release as string;
    if (v) releaseName.set(release, v);
    runs.push({ r, start, exit, live: releaseName.get(release)!, label });
    return release;
  }
  const url = (w: Web, p: string) => `http://127.0.0.1:${w.port}${p}`;

  // Before the first deploy php-fpm and nginx run and answer: 404, not 502.
  for (const w of webs) assert.is((await fetchText(url(w, '/'))).status, 404, `${w.name} before the first deploy: ${nginx.log()}`);
  await shipRun('deploy r1', ['deploy', 'production'], 'r1');
  for (const w of webs) {
    const p = parts((await fetchText(url(w, '/'))).body);
    assert.equal([p?.index, p?.config, p?.lib], ['r1', 'r1', 'r1'], `${w.name} serves r1`);
    assert.match(p!.file, `${w.deployTo}/releases/`, 'PHP sees the release path, not current/');
    const st = JSON.parse((await fetchText(url(w, '/status.php'))).body);
    assert.equal([st.opcache, st.validate_timestamps], [true, '0'], `${w.name}: OPcache on, timestamps not checked`);
  }

  // Each response: its request's index in the samples, and the release it named.
  const seen = new Map<number, string>();
  let mixed = 0;
  const check = (res: Response): Verdict => {
    const index = load!.samples.length; // the sample pushed right after this check
    if (res.status !== 200) return { ok: false, reason: `status ${res.status}: ${res.body.slice(0, 120)}` };
    const p = parts(res.body);
    if (!p) return { ok: false, reason: `not a whole page (${res.body.length} bytes): ${JSON.stringify(res.body.slice(0, 120))}` };
    if (p.index !== p.config || p.index !== p.lib) {
      mixed++;
      return { ok: false, reason: `files of two releases: index ${p.index}, config ${p.config}, lib ${p.lib}` };
    }
    seen.set(index, p.index);
    return { ok: true };
  };
  const urls = webs.flatMap((w) => ['/', '/index.php', '/orders/17?page=2'].map((p) => url(w, p)));
  load = startLoad({ urls, check, workers: 4, pauseMs: 2, maxMs: 300_000 });
  await new Promise((r) => setTimeout(r, 2000)); // at rest

  const good = [...releaseName.keys()];
  let n = 1;
  for (const step of ['deploy', 'deploy', 'rollback', 'deploy', 'deploy', 'rollback', 'deploy']) {
    if (step === 'rollback') {
      const to = await shipRun('rollback', ['rollback', 'production']);
      good.pop();
      assert.is(to, good.at(-1), 'rollback went to the previous good release');
      runs.at(-1)!.label = `rollback to ${runs.at(-1)!.live}`;
    } else {
      n++;
      good.push(await shipRun(`deploy r${n}`, ['deploy', 'production'], `r${n}`));
    }
    for (const w of webs) assert.is(path.basename(readlinkSync(path.join(w.deployTo, 'current'))), good.at(-1), `${w.name} current`);
    // The load goes on between two runs, past the 1 s after ship's exit, so that what
    // answers then is observed (not a wait for anything to settle: nothing is retried).
    await new Promise((r) => setTimeout(r, 1500));
  }
  const report = await load.stop();
  load = undefined;

  // Stale: a request sent from 1 s after ship exited until the next run began that did not get the live release.
  const staleOf = (i: number) => {
    const from = runs[i].exit + 1000;
    const to = runs[i + 1]?.start ?? Infinity;
    return report.samples.filter((s, k) => s.ok && s.start >= from && s.start < to && seen.get(k) !== runs[i].live);
  };
  const stale = runs.flatMap((_, i) => staleOf(i));
  for (const [i, x] of runs.entries()) {
    if (i === 0) continue; // r1 went live before the load began
    const observed = report.samples.filter((s) => s.start >= x.exit + 1000 && s.start < (runs[i + 1]?.start ?? Infinity)).length;
    assert.ok(observed > 0, `requests were sent from 1 s after "${x.label}" exited`);
  }
  const perStep = runs.slice(1).map((x, j) => {
    const i = j + 1;
    const win = report.samples.filter((s) => s.start >= x.start && s.start < (runs[i + 1]?.start ?? Infinity));
    return `${x.label.padEnd(16)} ${String(win.length).padStart(5)} requests, ${win.filter((s) => !s.ok).length} failed, ${staleOf(i).length} stale`;
  });
  const during = within(report.samples, runs.slice(1).map((x) => [x.start, x.exit]));
  const fmt = (s: Sample[]) => `p50 ${quantile(s, 0.5)} ms, p99 ${quantile(s, 0.99)} ms, max ${quantile(s, 1)} ms`;
  if (report.failures.length) process.stderr.write(`failed requests:\n${describeFailures(report.failures, 30)}\n`);
  const used = [];
  for (const w of webs) used.push(JSON.parse((await fetchText(url(w, '/status.php'))).body));
  return {
    requests: report.requests,
    failed: report.failures.length,
    mixed,
    stale: stale.length,
    retried: report.retried,
    perStep,
    latency: `during ship runs ${fmt(during)}; OPcache after: ${used.map((u) => `${u.cached_scripts} scripts, ${(u.used_memory / 1048576).toFixed(1)} MiB`).join(' / ')}`,
  };
}

function print(title: string, f: Figures): void {
  process.stderr.write(
    [
      '',
      `zero-downtime php (${title}): ${f.requests} requests, ${f.failed} failed, ${f.mixed} mixed, ${f.stale} stale, ${f.retried} retried on a reused keep-alive connection`,
      ...f.perStep.map((l) => `  ${l}`),
      `  ${f.latency}`,
      '',
    ].join('\n'),
  );
}

/** What the stage's `reload: 'sudo systemctl reload php8.2-fpm'` does (SIGUSR2 to the master), for each host's own master. */
const RELOAD = 'kill -USR2 "$(cat "$PHP_FPM_PID")"';

function writeStage(dir: string, config: Record<string, any>, webs: Web[], reload: string | undefined): void {
  const c = stageConfig(config, webs, reload);
  c.stages.production.hosts.forEach((h: Record<string, unknown>, i: number) => (h.env = { PHP_FPM_PID: webs[i].fpm.pidFile }));
  writeFileSync(path.join(dir, 'ship.config.json'), JSON.stringify(c, null, 2));
}

test('the php-fpm reload ship writes (graceful: process_control_timeout): 5 deploys, 2 rollbacks under load, nothing fails, mixes or lags', async () => {
  const { dir, slug, config } = await initProject();
  const { webs, nginx } = await startHosts(dir, slug);
  writeStage(dir, config, webs, RELOAD);
  const f = await run5and2(dir, webs, nginx);
  print('php-fpm reload, process_control_timeout from the pool template', f);
  assert.is(f.failed, 0, 'no failed request');
  assert.is(f.mixed, 0, 'no response mixes releases');
  assert.is(f.stale, 0, 'from 1 s after ship exits, every response is from the live release');
  assert.ok(f.requests > 500, 'the load ran');
});

test('no reload (the documented alternative): 5 deploys, 2 rollbacks under load, nothing fails, mixes or lags', async () => {
  const { dir, slug, config } = await initProject();
  const { webs, nginx } = await startHosts(dir, slug);
  writeStage(dir, config, webs, undefined);
  const f = await run5and2(dir, webs, nginx);
  print('no reload', f);
  assert.is(f.failed, 0, 'no failed request');
  assert.is(f.mixed, 0, 'no response mixes releases');
  assert.is(f.stale, 0, 'from 1 s after ship exits, every response is from the live release');
  assert.ok(f.requests > 500, 'the load ran');
});

test('ship check: a php-fpm reload is graceful with the pool template; warns when process_control_timeout is 0', async () => {
  const { dir, slug, config } = await initProject();
  // Debian's default: the template's [global] process_control_timeout taken out.
  const { webs } = await startHosts(dir, slug, { poolEdit: (pool) => pool.replace(/^\[global\]\nprocess_control_timeout = .*\n/m, '') });
  writeStage(dir, config, webs, RELOAD);
  const bad = await ship(['check', 'production', '--json'], { cwd: dir });
  assert.is(bad.code, 0, `a warning, not a failure: ${bad.stderr}`);
  const rows = (r: ShipRun) => r.events.filter((e) => e.check === 'php-fpm reload');
  // Each host's own master is among those checked (both run on this one machine, so each host sees both).
  for (const w of webs) assert.ok(rows(bad).some((r) => r.host === w.name && (r.detail as string).includes(w.fpm.conf)), `${w.name}: ${JSON.stringify(rows(bad))}`);
  for (const row of rows(bad)) {
    assert.is(row.warn, true);
    assert.match(row.detail as string, 'process_control_timeout is 0');
  }
  const plain = await ship(['check', 'production'], { cwd: dir });
  assert.is(plain.code, 0, plain.stderr);
  for (const w of webs) assert.match(plain.stdout, new RegExp(`^warn ${w.name}\\s+php-fpm reload\\s+process_control_timeout is 0`, 'm'), plain.stdout);
  for (const s of stops.splice(0).reverse()) await s();

  const good = await startHosts(dir, slug);
  writeStage(dir, config, good.webs, RELOAD);
  const ok = await ship(['check', 'production', '--json'], { cwd: dir });
  assert.is(ok.code, 0, ok.stderr);
  for (const w of good.webs) assert.ok(rows(ok).some((r) => r.host === w.name && (r.detail as string).includes(w.fpm.conf)), `${w.name}: ${JSON.stringify(rows(ok))}`);
  for (const row of rows(ok)) {
    assert.not.ok(row.warn);
    assert.match(row.detail as string, 'graceful: process_control_timeout = 10s');
  }
  // No php-fpm reload in the stage: no such check.
  writeStage(dir, config, good.webs, undefined);
  const none = await ship(['check', 'production', '--json'], { cwd: dir });
  assert.is(rows(none).length, 0);
});

test.run();

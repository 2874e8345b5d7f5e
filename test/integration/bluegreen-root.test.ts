/**
 * Two colors behind an nginx whose master runs as ROOT, as on a real server: the deploy
 * user (`shiptest`, logged in over a real sshd) moves traffic only through the root-owned
 * router helper (templates/nginx-bluegreen-router.sh), installed as an admin would —
 * root:root 0755 in a root-owned directory, its constants edited, one sudoers line — and
 * nothing root's nginx reads is writable by that user (docs/blue-green.md, "The router
 * helper"; docs/security.md, "Who can do what").
 *
 *   1. a deploy then three weighted canaries move traffic through the helper; every file the root
 *      nginx master reads (its config and includes, its logs) and the helper are not
 *      writable by the deploy user; a browser-like client that loads a page and fetches its
 *      chunk on a new connection gets no 404 during the canary (2 nginx workers: the cookie
 *      is known to every worker before any weight moves).
 *   2. the helper, run by the deploy user with config text, paths or odd numbers, refuses
 *      and changes nothing; sudo lets that user run nothing else as root.
 *   3. ship check passes with that layout and fails naming a router file the deploy user
 *      can write.
 *   4. the file mode (nginx running as the deploy user, router.reload): the same client
 *      gets no chunk 404 during a canary either.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTemplate } from '../../src/commands/init.js';
import { fetchText } from '../harness/http.js';
import { NGINX, startNginx, type Nginx } from '../harness/nginx.js';
import { atExit } from '../harness/reaper.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { chownTree, killColorApps, sshBlock } from '../harness/stage.js';

const test = suite('two colors behind a root nginx, through the router helper');
const HELPER_TEMPLATE = path.join(ROOT, 'templates/nginx-bluegreen-router.sh');
let ssh: SshHosts;
const nginxes: Nginx[] = [];
const dirs: string[] = [];
let sudoers: string | undefined;

interface Host {
  name: string;
  sshPort: number;
  deployTo: string;
  web: number;
  blue: number;
  green: number;
}
let rootHost: Host;
let fileHost: Host;
/** The admin's root-owned places: the helper, CONF_DIR, the log directory. */
let admin: { dir: string; helper: string; confDir: string; logDir: string; nginx?: Nginx };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const versionOf = (body: string) => /data-version="([^"]+)"/.exec(body)?.[1];
const START = `mkdir -p "$SHIP_DEPLOY_TO"/run; nohup ${process.execPath} server.mjs --port {port} > "$SHIP_DEPLOY_TO"/run/{color}.log 2>&1 < /dev/null & echo $! > "$SHIP_DEPLOY_TO"/run/{color}.pid`;
const STOP = `p=$(cat "$SHIP_DEPLOY_TO"/run/{color}.pid 2>/dev/null) || exit 0; kill "$p" 2>/dev/null || exit 0; while kill -0 "$p" 2>/dev/null; do sleep 0.05; done`;

function config(h: Host, router: object, strategy?: object) {
  return {
    app: 'shop',
    build: { dir: 'app' },
    keepReleases: 10,
    ssh: sshBlock(ssh),
    processes: { start: START, stop: STOP },
    healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: 'release={release}', retries: 20, interval: '250ms', timeout: '2s' },
    assets: { dirs: ['public/chunks'], keep: 3 },
    router,
    ...(strategy ? { strategy } : {}),
    stages: { production: { hosts: [{ name: h.name, host: '127.0.0.1', port: h.sshPort, user: ssh.user, deployTo: h.deployTo, ports: { blue: h.blue, green: h.green } }] } },
  };
}

function writeVersion(build: string, v: string) {
  rmSync(path.join(build, 'public'), { recursive: true, force: true });
  mkdirSync(path.join(build, 'public/chunks'), { recursive: true });
  cpSync(path.join(ROOT, 'fixtures/bluegreen-app/server.mjs'), path.join(build, 'server.mjs'));
  writeFileSync(path.join(build, 'VERSION'), `${v}\n`);
  for (const c of ['a', 'b']) writeFileSync(path.join(build, `public/chunks/${v}-${c}.js`), `// chunk ${v}-${c}\n`);
}

const state = (h: Host) => JSON.parse(readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8'));
const tail = (r: ShipRun) => `${r.stderr}\n${r.stdout.split('\n').slice(-15).join('\n')}`;

/** As the deploy user: exit code, output. */
function asDeployUser(cmd: string[]): { code: number; out: string } {
  const r = spawnSync('runuser', ['-u', ssh.user, '--', ...cmd], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
const writableByDeployUser = (p: string) => asDeployUser(['test', '-w', p]).code === 0;

/** A path and its directories up to the first root-owned sticky one (/tmp: no one can replace root's entries there). */
function withParents(p: string): string[] {
  const out = [p];
  for (let d = path.dirname(p); d !== '/'; d = path.dirname(d)) {
    const st = statSync(d);
    if (st.mode & 0o1000 && st.uid === 0) break;
    out.push(d);
  }
  return out;
}

/** Every file the nginx master reads or opens as root: its config and includes (nginx -T), its logs, its pid file. */
function filesNginxReads(n: Nginx): string[] {
  const dump = execFileSync(NGINX, ['-p', n.prefix, '-c', n.conf, '-e', n.errorLog, '-T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const files = [...dump.matchAll(/^# configuration file (.+):$/gm)].map((m) => m[1]);
  const logs = [...dump.matchAll(/^\s*(?:access_log|error_log|pid)\s+([^\s;]+)/gm)].map((m) => m[1]).filter((p) => p.startsWith('/'));
  return [...new Set([...files, ...logs, n.errorLog, n.pidFile])];
}

/**
 * Browser-like visitors, each new for every page: GET / on a new connection, then at once
 * the page's first chunk on ANOTHER new connection with the cookie the page set.
 */
function startChunkClients(web: number, n = 6) {
  let stopping = false;
  const chunks: Array<{ t: number; status: number; path: string; cookie?: string }> = [];
  const errors: string[] = [];
  const get = (p: string, cookie?: string) =>
    new Promise<{ status: number; body: string; setCookie?: string }>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${web}${p}`, { agent: false, headers: cookie ? { cookie } : {} }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie']?.[0] }));
        })
        .on('error', reject);
    });
  const one = async () => {
    while (!stopping) {
      try {
        const page = await get('/');
        const src = /src="([^"]+)"/.exec(page.body)?.[1];
        if (page.status !== 200 || !src) {
          errors.push(`page ${page.status}`);
          continue;
        }
        const cookie = page.setCookie ? /^[^;]+/.exec(page.setCookie)![0] : undefined;
        const t = Date.now();
        const c = await get(src, cookie);
        chunks.push({ t, status: c.status, path: src, cookie });
      } catch (e) {
        errors.push((e as Error).message);
      }
      await sleep(3);
    }
  };
  const running = Promise.all(Array.from({ length: n }, one));
  return {
    chunks,
    async stop() {
      stopping = true;
      await running;
      return { chunks, errors };
    },
  };
}

/**
 * Canaries (one per version, in a row) under the chunk clients: the 404s of chunks fetched
 * right after their page. The p95 gate is out of the way: a cold node process on a busy
 * machine is not what this is about (the gates have their own tests).
 */
async function canariesUnderClients(h: Host, dir: string, versions: string[], router: object): Promise<ShipRun[]> {
  writeConfig(dir, config(h, router, { steps: [50, 100], stepTime: '2s', gates: { minRequests: 10, p95: 1000 } }));
  const clients = startChunkClients(h.web, 10);
  await sleep(500);
  const runs: ShipRun[] = [];
  for (const v of versions) {
    writeVersion(path.join(dir, 'app'), v);
    const r = await ship(['deploy', 'production', '--json'], { cwd: dir });
    runs.push(r);
    if (r.code !== 0) break;
  }
  await sleep(300);
  const { chunks, errors } = await clients.stop();
  for (const r of runs) assert.is(r.code, 0, tail(r));
  const splits = runs.map((r) => Date.parse(r.events.find((e) => e.type === 'canary' && e.status === 'start')?.time ?? ''));
  const notFound = chunks.filter((c) => c.status === 404);
  const inFirstSplit = notFound.filter((c) => splits.some((t) => c.t >= t - 2000 && c.t <= t + 2500));
  const pinned = chunks.filter((c) => c.cookie).length;
  const changes = runs.map((r) => r.events.filter((e) => e.type === 'route').length);
  process.stderr.write(
    `\n${h.name}: ${versions.length} canaries, ${chunks.length} page+chunk pairs (${pinned} with a ship_route cookie), ${notFound.length} chunk 404s (${inFirstSplit.length} around a first split), router changes per deploy: ${changes.join(', ')}\n`,
  );
  assert.ok(pinned > 0, 'the split handed out cookies');
  assert.is(notFound.length, 0, `chunk 404s: ${notFound.length} (around a first split: ${inFirstSplit.length}), e.g. ${JSON.stringify(notFound.slice(0, 3))}`);
  assert.equal(errors, [], 'every page answered');
  return runs;
}

const killApps = () => killColorApps([rootHost?.deployTo, fileHost?.deployTo]);

test.before(async () => {
  atExit(killApps);
  atExit(() => sudoers && rmSync(sudoers, { force: true }));
  ssh = await sharedSshHosts();
  const sub = `bgr-${randomBytes(3).toString('hex')}`;
  const mk = async (i: number): Promise<Host> => ({
    name: `bgr-${ssh.hosts[i].name}`,
    sshPort: ssh.hosts[i].port,
    deployTo: path.join(ssh.hosts[i].deployRoot, sub),
    web: await freePort(),
    blue: await freePort(),
    green: await freePort(),
  });
  rootHost = await mk(0);
  fileHost = await mk(1);

  // The admin's part, as root: a root-owned directory for the helper, CONF_DIR and the log.
  const base = mkdtempSync('/tmp/ship-root-');
  dirs.push(base);
  chmodSync(base, 0o755);
  admin = { dir: base, helper: path.join(base, 'sbin/ship-nginx-router'), confDir: path.join(base, 'nginx/ship'), logDir: path.join(base, 'log/nginx') };
  for (const d of [path.dirname(admin.helper), admin.confDir, admin.logDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  // The include must exist before nginx loads the site: the admin renders it once (no traffic moves).
  const initial = execFileSync('sh', [HELPER_TEMPLATE, '--print', 'shop', String(rootHost.blue), String(rootHost.green), '100', '0', '-'], { encoding: 'utf8' });
  writeFileSync(path.join(admin.confDir, 'shop.conf'), initial, { mode: 0o644 });
  const site = (await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: rootHost.deployTo, listen: `127.0.0.1:${rootHost.web}`, serverName: 'localhost' }))
    .replaceAll('include /etc/nginx/ship/shop.conf;', `include ${admin.confDir}/shop.conf;`)
    .replaceAll('/var/log/nginx/', `${admin.logDir}/`);
  admin.nginx = await startNginx({ servers: [site], ports: [rootHost.web], workers: 2 });
  nginxes.push(admin.nginx);
  // The helper, its constants edited for this nginx, root:root 0755.
  const n = admin.nginx;
  const script = readFileSync(HELPER_TEMPLATE, 'utf8')
    .replace(/^CONF_DIR=.*$/m, `CONF_DIR=${admin.confDir}`)
    .replace(/^NGINX_ARGS=.*$/m, `NGINX_ARGS="-p ${n.prefix} -c ${n.conf} -e ${n.errorLog}"`)
    .replace(/^PID_FILE=.*$/m, `PID_FILE=${n.pidFile}`);
  writeFileSync(admin.helper, script, { mode: 0o755 });
  chmodSync(admin.helper, 0o755);
  sudoers = `/etc/sudoers.d/ship_test_${randomBytes(4).toString('hex')}`;
  writeFileSync(sudoers, `${ssh.user} ALL=(root) NOPASSWD: ${admin.helper}\n`, { mode: 0o440 });
  execFileSync('visudo', ['-c', '-q', '-f', sudoers]);
});

test.after(async () => {
  killApps();
  for (const n of nginxes) await n.stop();
  if (sudoers) rmSync(sudoers, { force: true });
  dirs.forEach(rmrf);
});

test('a deploy and a canary move traffic through the helper; nothing root nginx reads is writable by the deploy user; no chunk 404 on a new connection', async () => {
  const h = rootHost;
  const router = { command: `sudo -n ${admin.helper}`, accessLog: path.join(admin.logDir, 'shop-colors.log') };
  const dir = tmpDir('ship-bgroot-');
  dirs.push(dir);
  writeVersion(path.join(dir, 'app'), '1');
  writeConfig(dir, config(h, router));
  const first = await ship(['deploy', 'production', '--json'], { cwd: dir });
  assert.is(first.code, 0, tail(first));
  assert.is(versionOf((await fetchText(`http://127.0.0.1:${h.web}/`)).body), '1');
  assert.match(readFileSync(path.join(admin.confDir, 'shop.conf'), 'utf8'), `server 127.0.0.1:${h.blue} weight=100;`);

  for (const r of await canariesUnderClients(h, dir, ['2', '3', '4'], router)) {
    const passed = r.events.filter((e) => e.type === 'canary' && e.status === 'passed');
    assert.equal(passed.map((e) => e.percent), [50]);
    assert.ok(passed[0].figures.new.requests >= 10, JSON.stringify(passed[0].figures));
  }
  const s = state(h);
  assert.is(s.live, 'green');
  assert.equal(s.weights, { blue: 0, green: 100 });
  assert.is(s.route, undefined, 'the rollout token is gone once one color has all traffic');
  const conf = readFileSync(path.join(admin.confDir, 'shop.conf'), 'utf8');
  assert.match(conf, `server 127.0.0.1:${h.green} weight=100;`);
  assert.not.match(conf, 'ship_route=');
  for (let i = 0; i < 5; i++) assert.is(versionOf((await fetchText(`http://127.0.0.1:${h.web}/`)).body), '4');
  assert.not.ok(existsSync(path.join(h.deployTo, '.ship/router/upstream.conf')), 'ship wrote no router file of its own');

  // The master is root's; what it reads is not the deploy user's to change.
  const master = readFileSync(`/proc/${admin.nginx!.pid}/status`, 'utf8');
  assert.match(master, /^Uid:\s+0\s/m);
  const reads = filesNginxReads(admin.nginx!);
  assert.ok(reads.includes(path.join(admin.confDir, 'shop.conf')), `the include is read: ${reads.join(', ')}`);
  assert.ok(reads.includes(path.join(admin.logDir, 'shop-colors.log')), `the log is opened: ${reads.join(', ')}`);
  const checked = [...reads, admin.helper].flatMap(withParents);
  const writable = [...new Set(checked)].filter(writableByDeployUser);
  assert.equal(writable, [], `writable by ${ssh.user}: ${writable.join(', ')}`);
  // …and the deploy user reads the log (the canary judged from it).
  assert.is(asDeployUser(['test', '-r', path.join(admin.logDir, 'shop-colors.log')]).code, 0);
  assert.match(readFileSync(path.join(admin.logDir, 'shop-colors.log'), 'utf8'), /127\.0\.0\.1:\d+ 200 [\d.]+ [0-9a-f]{32}-(blue|green)\n/);
});

test('the helper refuses config text, paths and odd numbers from the deploy user, and changes nothing', async () => {
  const h = rootHost;
  const snapshot = () => ({
    files: readdirSync(admin.confDir).sort(),
    conf: readFileSync(path.join(admin.confDir, 'shop.conf'), 'utf8'),
    nginxConf: readFileSync(admin.nginx!.conf, 'utf8'),
  });
  const before = snapshot();
  const workers = () => execFileSync('sh', ['-c', `for d in /proc/[0-9]*; do [ "$(cut -d' ' -f4 "$d"/stat 2>/dev/null)" = ${admin.nginx!.pid} ] && echo "\${d#/proc/}"; done; true`], { encoding: 'utf8' });
  const workersBefore = workers();
  const evil = [
    ['shop', h.blue, h.green, 90, 10, "x shop_blue; } log_format k escape=none '$http_x_k'; server { access_log /root/.ssh/authorized_keys k; } map $a $b { x"],
    ['shop', h.blue, h.green, '1;', 0, '-'],
    ['shop', h.blue, h.green, '50 weight=1; server 10.0.0.1:22', 50, '-'],
    ['shop', `${h.blue}; include /tmp/x.conf`, h.green, 100, 0, '-'],
    ['../../../root/.ssh/authorized_keys', h.blue, h.green, 100, 0, '-'],
    ['shop/../../x', h.blue, h.green, 100, 0, '-'],
    ['/etc/nginx/nginx', h.blue, h.green, 100, 0, '-'],
    ['shop', h.blue, h.green, 0, 0, '-'],
    ['shop', h.blue, h.green, 100, 0, '$(id>/tmp/pwned)'],
    ['shop', h.blue, h.green, 100, 0],
  ].map((a) => a.map(String));
  for (const args of evil) {
    const r = asDeployUser(['sudo', '-n', admin.helper, ...args]);
    assert.is.not(r.code, 0, `accepted ${JSON.stringify(args)}: ${r.out}`);
    assert.match(r.out, /ship-nginx-router: (refused|usage)/, `${JSON.stringify(args)}: ${r.out}`);
  }
  assert.equal(snapshot(), before, 'nothing changed in CONF_DIR or the nginx config');
  assert.is(workers(), workersBefore, 'nginx was not reloaded');
  assert.not.ok(existsSync('/tmp/pwned'));
  // sudo gives the deploy user the helper, nothing else.
  for (const cmd of [[NGINX, '-s', 'reload'], ['/bin/sh', '-c', 'id'], ['cp', '/etc/hostname', path.join(admin.confDir, 'x.conf')]]) {
    const r = asDeployUser(['sudo', '-n', ...cmd]);
    assert.is.not(r.code, 0, `sudo ${cmd.join(' ')}: ${r.out}`);
  }
  assert.equal(snapshot(), before);
});

test('ship check: passes with the helper installed as root; fails naming a router file the deploy user can write', async () => {
  const h = rootHost;
  const dir = tmpDir('ship-bgcheck-');
  dirs.push(dir);
  mkdirSync(path.join(dir, 'app'), { recursive: true });
  writeConfig(dir, config(h, { command: `sudo -n ${admin.helper}`, accessLog: path.join(admin.logDir, 'shop-colors.log') }));
  const rowsOf = (r: ShipRun) => r.events.filter((e) => e.check === 'router files' || e.check === 'router log');
  let r = await ship(['check', 'production', '--json'], { cwd: dir });
  assert.ok(rowsOf(r).length === 2 && rowsOf(r).every((e) => e.ok), `${JSON.stringify(rowsOf(r))}\n${tail(r)}`);
  const conf = path.join(admin.confDir, 'shop.conf');
  execFileSync('chown', [`${ssh.uid}`, conf]);
  try {
    r = await ship(['check', 'production', '--json'], { cwd: dir });
    assert.is(r.code, 1, tail(r));
    const row = rowsOf(r).find((e) => e.check === 'router files');
    assert.is(row?.ok, false);
    assert.match(row?.detail ?? '', conf);
  } finally {
    execFileSync('chown', ['0', conf]);
  }
});

test('the file mode (nginx running as the deploy user): no chunk 404 on a new connection during a canary either', async () => {
  const h = fileHost;
  const dir = tmpDir('ship-bgfile-');
  dirs.push(dir);
  writeVersion(path.join(dir, 'app'), '1');
  writeConfig(dir, config(h, { reload: 'true' }));
  const first = await ship(['deploy', 'production', '--json'], { cwd: dir });
  assert.is(first.code, 0, tail(first));
  const site = (await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: h.deployTo, listen: `127.0.0.1:${h.web}`, serverName: 'localhost' }))
    .replaceAll('include /etc/nginx/ship/shop.conf;', `include ${h.deployTo}/.ship/router/upstream.conf;`)
    .replaceAll('/var/log/nginx/shop-colors.log', `${h.deployTo}/.ship/router/access.log`);
  const n = await startNginx({ servers: [site], ports: [h.web], owner: { uid: ssh.uid, gid: ssh.gid }, workers: 2 });
  nginxes.push(n);
  writeFileSync(path.join(h.deployTo, 'reload-router.sh'), `${n.reloadCommand}\n`);
  chownTree(ssh, path.join(h.deployTo, 'reload-router.sh'));
  assert.is(versionOf((await fetchText(`http://127.0.0.1:${h.web}/`)).body), '1');
  await canariesUnderClients(h, dir, ['2', '3', '4'], { reload: 'sh "$SHIP_DEPLOY_TO"/reload-router.sh' });
  assert.is(state(h).live, 'green');
});

test.run();

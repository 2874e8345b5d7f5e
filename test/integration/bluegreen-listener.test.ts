/**
 * Two colors: who answers on a color's port. On one sshd host, with a real nginx routing
 * by the upstream file ship writes (as in bluegreen.test.ts), and the app
 * (fixtures/bluegreen-app) started per color by `processes.start`:
 *
 *   1. a genuine deploy passes: the process ship started got a random health token in its
 *      environment, showed it on its health page, listens as the deploy user, and takes
 *      the traffic; the token is in no output (--verbose included) and in no history line.
 *   2. a process of another local user (`nobody`) that bound the idle color's port first,
 *      and answers the health path with every release id it can see: the deploy fails
 *      naming the host, the port and the owner; no router change, `current` unchanged,
 *      nginx still serves the live release, the release is recorded failed.
 *   3. the same with processes.checkListener: false: the health token alone fails it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTemplate } from '../../src/commands/init.js';
import { fetchText } from '../harness/http.js';
import { startNginx, type Nginx } from '../harness/nginx.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import { atExit } from '../harness/reaper.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { chownTree, killColorApps, layout, sshBlock } from '../harness/stage.js';

const test = suite('two colors: only the deploy user’s listener gets traffic');
const NOBODY = 65534;
let ssh: SshHosts;
let nginx: Nginx | undefined;
let intruder: ChildProcess | undefined;
let dir: string;
let build: string;
let h: { name: string; sshPort: number; deployTo: string; web: number; blue: number; green: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const versionOf = (body: string) => /data-version="([^"]+)"/.exec(body)?.[1];

const START = `mkdir -p "$SHIP_DEPLOY_TO"/run; nohup ${process.execPath} server.mjs --port {port} > "$SHIP_DEPLOY_TO"/run/{color}.log 2>&1 < /dev/null & echo $! > "$SHIP_DEPLOY_TO"/run/{color}.pid`;
const STOP = `p=$(cat "$SHIP_DEPLOY_TO"/run/{color}.pid 2>/dev/null) || exit 0; kill "$p" 2>/dev/null || exit 0; while kill -0 "$p" 2>/dev/null; do sleep 0.05; done`;

function config(over: { reload?: string; checkListener?: boolean } = {}) {
  return {
    app: 'shop',
    build: { dir: 'app' },
    keepReleases: 10,
    ssh: sshBlock(ssh),
    // keepOld none: the old color is stopped after each switch, so its port is free for whoever binds it first.
    processes: { start: START, stop: STOP, keepOld: 'none', ...(over.checkListener === undefined ? {} : { checkListener: over.checkListener }) },
    healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: 'release={release}', retries: 8, interval: '250ms', timeout: '2s' },
    router: { reload: over.reload ?? 'sh "$SHIP_DEPLOY_TO"/reload-router.sh' },
    stages: {
      production: { hosts: [{ name: h.name, host: '127.0.0.1', port: h.sshPort, user: ssh.user, deployTo: h.deployTo, ports: { blue: h.blue, green: h.green } }] },
    },
  };
}

function writeVersion(v: string) {
  rmSync(build, { recursive: true, force: true });
  mkdirSync(build, { recursive: true });
  cpSync(path.join(ROOT, 'fixtures/bluegreen-app/server.mjs'), path.join(build, 'server.mjs'));
  writeFileSync(path.join(build, 'VERSION'), `${v}\n`);
}

const deploy = (args: string[] = []): Promise<ShipRun> => ship(['deploy', 'production', '--json', ...args], { cwd: dir });
const stateText = () => readFileSync(path.join(h.deployTo, '.ship/router/state.json'), 'utf8');
const upstreamText = () => readFileSync(path.join(h.deployTo, '.ship/router/upstream.conf'), 'utf8');
const pidOf = (color: string) => readFileSync(path.join(h.deployTo, 'run', `${color}.pid`), 'utf8').trim();
const tail = (r: ShipRun) => `${r.stderr}\n${r.stdout.split('\n').slice(-15).join('\n')}`;

/** What nginx serves now, on 10 fresh requests. */
async function served(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 10; i++) out.push(versionOf((await fetchText(`http://127.0.0.1:${h.web}/`)).body) ?? '?');
  return [...new Set(out)];
}

/**
 * A process of another user on the blue port, pretending to be the app: its health page
 * names every release it can see under deployTo (the ids are directory names), and any
 * other path answers a page of version "intruder".
 */
async function startIntruder(port: number): Promise<ChildProcess> {
  const code = `
const http = require('node:http'); const fs = require('node:fs');
const releases = ${JSON.stringify(path.join(h.deployTo, 'releases'))};
http.createServer((req, res) => {
  let ids = []; try { ids = fs.readdirSync(releases); } catch {}
  const body = req.url === '/healthz' ? ids.map((id) => 'ok release=' + id + ' token=').join('\\n') + '\\n' : '<html><body data-version="intruder"></body></html>\\n';
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }); res.end(body);
}).listen(${port}, '127.0.0.1');`;
  const p = spawn(process.execPath, ['-e', code], { uid: NOBODY, gid: NOBODY, stdio: 'ignore', cwd: '/' });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetchText(`http://127.0.0.1:${port}/healthz`);
      if (r.status === 200) return p;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  p.kill('SIGKILL');
  throw new Error(`the intruder never listened on ${port}`);
}

function killAll() {
  intruder?.kill('SIGKILL');
  killColorApps([h?.deployTo]);
}

test.before(async () => {
  atExit(killAll);
  ssh = await sharedSshHosts();
  const host = ssh.hosts[0];
  h = { name: 'bgl', sshPort: host.port, deployTo: path.join(host.deployRoot, `bgl-${randomBytes(3).toString('hex')}`), web: await freePort(), blue: await freePort(), green: await freePort() };
  dir = tmpDir('ship-bg-listener-');
  build = path.join(dir, 'app');
  // The first deploy (blue) routes nothing yet; then nginx starts on the router file ship wrote.
  writeVersion('1');
  writeConfig(dir, config({ reload: 'true' }));
  const first = await deploy();
  assert.is(first.code, 0, tail(first));
  // The file mode (router.reload): this nginx runs as the deploy user and reads what it writes.
  const site = (await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: h.deployTo, listen: `127.0.0.1:${h.web}`, serverName: 'localhost' }))
    .replaceAll('include /etc/nginx/ship/shop.conf;', `include ${h.deployTo}/.ship/router/upstream.conf;`)
    .replaceAll('/var/log/nginx/shop-colors.log', `${h.deployTo}/.ship/router/access.log`);
  nginx = await startNginx({ servers: [site], ports: [h.web], owner: { uid: ssh.uid, gid: ssh.gid } });
  writeFileSync(path.join(h.deployTo, 'reload-router.sh'), `${nginx.reloadCommand}\n`);
  chownTree(ssh, path.join(h.deployTo, 'reload-router.sh'));
  assert.equal(await served(), ['1']);
});

test.after(async () => {
  killAll();
  await nginx?.stop();
  rmrf(dir);
});

test('a genuine deploy: the process ship started shows its health token, listens as the deploy user, gets the traffic; the token is never printed', async () => {
  writeConfig(dir, config());
  writeVersion('2');
  const r = await deploy(['--verbose']);
  assert.is(r.code, 0, tail(r));
  const s = JSON.parse(stateText());
  assert.is(s.live, 'green');
  assert.equal(s.weights, { blue: 0, green: 100 });
  assert.is(s.releases.blue, undefined, 'keepOld none stopped blue');
  assert.is(layout(h.deployTo).current, `releases/${s.releases.green}`);
  assert.equal(await served(), ['2']);
  // The token the app got: random, of ship's form, and nowhere in what ship printed or kept.
  const env = readFileSync(`/proc/${pidOf('green')}/environ`, 'utf8').split('\0');
  const token = env.find((e) => e.startsWith('SHIP_HEALTH_TOKEN='))?.slice('SHIP_HEALTH_TOKEN='.length) ?? '';
  assert.match(token, /^[0-9a-f]{48}$/);
  assert.ok(r.events.some((e) => e.type === 'command'), '--verbose showed the commands');
  assert.ok(r.events.some((e) => e.type === 'health' && e.ok), 'the health check passed');
  assert.not.ok(r.stdout.includes(token) || r.stderr.includes(token), 'the token is in no output');
  assert.not.ok(readFileSync(path.join(h.deployTo, '.ship/history.jsonl'), 'utf8').includes(token), 'the token is in no history line');
});

test('another user bound the idle color’s port first: the deploy fails naming host, port and owner, and no traffic moves', async () => {
  writeConfig(dir, config());
  const before = { state: stateText(), upstream: upstreamText(), current: layout(h.deployTo).current };
  intruder = await startIntruder(h.blue);
  writeVersion('3');
  const r = await deploy();
  assert.is(r.code, 1, `the deploy must fail while nobody's process holds blue's port ${h.blue}:\n${tail(r)}`);
  const err = r.events.find((e) => e.type === 'error');
  assert.is(err?.reason, 'foreign-listener', JSON.stringify(err));
  assert.is(err?.host, h.name);
  assert.match(err?.message ?? '', `${h.name}: 127.0.0.1:${h.blue}`);
  assert.match(err?.message ?? '', `uid ${NOBODY} (nobody)`);
  assert.not.ok(r.events.some((e) => e.type === 'route'), 'no router change');
  assert.is(upstreamText(), before.upstream, 'the router file is unchanged');
  const s = JSON.parse(stateText());
  const was = JSON.parse(before.state);
  assert.is(s.live, 'green');
  assert.equal(s.weights, was.weights);
  assert.is(s.releases.green, was.releases.green);
  assert.is(s.releases.blue, undefined, 'the new color was stopped again');
  assert.is(layout(h.deployTo).current, before.current, 'current did not move');
  assert.equal(await served(), ['2'], 'nginx still serves the live release');
  const failed = layout(h.deployTo).history.filter((e: any) => e.action === 'failure');
  assert.ok(failed.length > 0, 'the release is recorded failed');
  assert.ok(intruder.exitCode === null, 'the intruder still runs (ship cannot stop it)');
});

test('with processes.checkListener false, the health token alone keeps the intruder from traffic', async () => {
  writeConfig(dir, config({ checkListener: false }));
  const before = { state: stateText(), upstream: upstreamText(), current: layout(h.deployTo).current };
  writeVersion('4');
  const r = await deploy();
  assert.is(r.code, 1, tail(r));
  const err = r.events.find((e) => e.type === 'error');
  assert.is(err?.reason, 'health', JSON.stringify(err));
  assert.match(err?.message ?? '', "lacks this run's health token", JSON.stringify(err));
  assert.not.ok(r.events.some((e) => e.type === 'route'), 'no router change');
  assert.is(upstreamText(), before.upstream);
  assert.is(JSON.parse(stateText()).live, 'green');
  assert.is(layout(h.deployTo).current, before.current);
  assert.equal(await served(), ['2']);
});

test.run();

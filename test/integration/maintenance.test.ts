/**
 * `ship maintenance <stage> on|off` over real sshd hosts, seen through a real nginx
 * configured from templates/nginx/site.conf: 503 with the page while on, 200 after off.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailures, startLoad, type Response, type Verdict, type LoadRun } from '../harness/load.js';
import { siteFromTemplate, startNginx, type Nginx } from '../harness/nginx.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { sshBlock, writeOwned } from '../harness/stage.js';
import { fetchText as get } from '../harness/http.js';

const test = suite('maintenance mode through nginx');
let ssh: SshHosts;
let nginx: Nginx;
let dir: string;
let load: LoadRun | undefined; // stopped in after() too, when an assertion ends the test early
let webs: Array<{ name: string; port: number; deployTo: string; sshPort: number }>;
const TEMPLATE_TITLE = '<title>Down for maintenance</title>';


function config(extra: Record<string, unknown> = {}) {
  writeConfig(dir, {
    app: 'shop',
    build: { command: 'node build.mjs', dir: 'dist' },
    ssh: sshBlock(ssh),
    ...extra,
    stages: { production: { hosts: webs.map((w) => ({ name: w.name, host: '127.0.0.1', port: w.sshPort, user: ssh.user, deployTo: w.deployTo })) } },
  });
}

test.before(async () => {
  ssh = await sharedSshHosts();
  const sub = `maint-${randomBytes(3).toString('hex')}`;
  webs = [];
  for (const h of ssh.hosts.slice(0, 2)) webs.push({ name: `m-${h.name}`, port: await freePort(), deployTo: path.join(h.deployRoot, sub), sshPort: h.port });
  const servers = await Promise.all(webs.map((w) => siteFromTemplate({ app: w.name, deployTo: w.deployTo, port: w.port })));
  nginx = await startNginx({ servers, ports: webs.map((w) => w.port), owner: { uid: ssh.uid, gid: ssh.gid } });
  dir = tmpDir('ship-maint-');
  cpSync(path.join(ROOT, 'fixtures/static-site'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  config();
  const r = await ship(['deploy', 'production'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
});
test.after(async () => {
  await load?.stop();
  await nginx?.stop();
  rmrf(dir);
});

const url = (w: (typeof webs)[number], p = '/') => `http://127.0.0.1:${w.port}${p}`;

test('on: every request gets the template page with 503; off: 200 again', async () => {
  for (const w of webs) assert.is((await get(url(w))).status, 200, nginx.log());
  const on = await ship(['maintenance', 'production', 'on'], { cwd: dir });
  assert.is(on.code, 0, on.stderr);
  for (const w of webs) {
    const file = path.join(w.deployTo, 'shared/maintenance.html');
    assert.ok(existsSync(file));
    assert.is(statSync(file).uid, ssh.uid, 'written by the deploy user');
    assert.equal(readdirSync(path.join(w.deployTo, 'shared')).filter((f) => f.includes('tmp')), [], 'no temp file left');
    assert.not.ok(existsSync(path.join(w.deployTo, '.ship/lock')), 'unlocked after');
    for (const p of ['/', '/about.html', '/index.html', '/assets/anything.js', '/no-such-page']) {
      const r = await get(url(w, p));
      assert.is(r.status, 503, `${w.name} ${p}`);
      assert.ok(r.body.includes(TEMPLATE_TITLE), `${p} shows the maintenance page`);
      assert.ok(r.body.includes('shop is being updated'), 'the template names the app');
      assert.is(r.headers['retry-after'], '60');
    }
  }
  const off = await ship(['maintenance', 'production', 'off'], { cwd: dir });
  assert.is(off.code, 0, off.stderr);
  for (const w of webs) {
    assert.not.ok(existsSync(path.join(w.deployTo, 'shared/maintenance.html')));
    const r = await get(url(w, '/about.html'));
    assert.is(r.status, 200);
    assert.match(r.body, 'About, version');
  }
  // Off twice is fine.
  const again = await ship(['maintenance', 'production', 'off'], { cwd: dir });
  assert.is(again.code, 0, again.stderr);
});

test('maintenance.page from the config; toggled under load, every answer is a whole page', async () => {
  const page = `<!doctype html><html><body><h1>Back soon</h1>${'<p>please wait</p>'.repeat(2000)}<p id="end"></p></body></html>\n`;
  writeFileSync(path.join(dir, 'down.html'), page);
  config({ maintenance: { page: 'down.html' } });
  const check = (r: Response): Verdict => {
    if (r.status === 503) return r.body === page ? { ok: true } : { ok: false, reason: `503 with ${r.body.length} bytes, not the whole page` };
    if (r.status === 200) return r.body.endsWith('</html>\n') ? { ok: true } : { ok: false, reason: 'cut page' };
    return { ok: false, reason: `status ${r.status}` };
  };
  load = startLoad({ urls: webs.map((w) => url(w)), check, workers: 2, pauseMs: 1, maxMs: 120_000 });
  for (let i = 0; i < 3; i++) {
    const on = await ship(['maintenance', 'production', 'on'], { cwd: dir });
    assert.is(on.code, 0, on.stderr);
    for (const w of webs) {
      const r = await get(url(w));
      assert.is(r.status, 503);
      assert.is(r.body, page);
    }
    const off = await ship(['maintenance', 'production', 'off'], { cwd: dir });
    assert.is(off.code, 0, off.stderr);
    for (const w of webs) assert.is((await get(url(w))).status, 200);
  }
  const report = await load.stop();
  load = undefined;
  const s503 = report.samples.filter((s) => s.status === 503).length;
  process.stderr.write(`\nmaintenance toggled 3x under load: ${report.requests} requests, ${s503} answered 503, ${report.failures.length} failed\n`);
  assert.is(report.failures.length, 0, describeFailures(report.failures));
  config();
});

test('a missing maintenance.page: exit 2 naming it, nothing written', async () => {
  config({ maintenance: { page: 'nope.html' } });
  const r = await ship(['maintenance', 'production', 'on'], { cwd: dir });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'nope.html');
  for (const w of webs) assert.not.ok(existsSync(path.join(w.deployTo, 'shared/maintenance.html')));
  config();
});

test('a held lock: exit 3 naming the holder, the page is not put up', async () => {
  const w = webs[1];
  writeOwned(ssh, w.deployTo, {
    '.ship/lock': JSON.stringify({ user: 'alice', host: 'laptop', pid: 4242, command: 'deploy production', startedAt: '2026-11-30T00:00:00.000Z' }),
  });
  try {
    const r = await ship(['maintenance', 'production', 'on'], { cwd: dir });
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, 'alice@laptop pid 4242');
    for (const x of webs) assert.not.ok(existsSync(path.join(x.deployTo, 'shared/maintenance.html')), `${x.name}: nothing written`);
    assert.is((await get(url(webs[0]))).status, 200);
  } finally {
    rmrf(path.join(w.deployTo, '.ship/lock'));
  }
  assert.ok(readFileSync(path.join(webs[0].deployTo, '.ship/history.jsonl'), 'utf8').length > 0);
});

test.run();

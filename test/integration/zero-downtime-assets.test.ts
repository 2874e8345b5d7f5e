/**
 * Zero downtime, an app that serves its own assets: fixtures/vite-app (a Vite-style
 * dist/ with a fingerprinted entry chunk, served by its own Node server that knows only
 * its own release) runs under a real pm2 in cluster mode (2 workers, templates/pm2) on
 * each of two sshd hosts, behind a real nginx from templates/nginx/site.conf. A load loop
 * does what a browser does — fetch the page, then the entry chunk that page names — during
 * 5 deploys whose reload is `pm2 reload app`.
 *
 * Without the template's /assets/ location (served from current/), a page from a new
 * worker sends the browser to an old worker for a chunk its release never had: a 404.
 * With it, no request fails, and each deploy changes the chunk the pages name.
 */
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailures, startLoad, type Response, type Verdict, type LoadRun } from '../harness/load.js';
import { siteFromTemplate, startNginx, type Nginx } from '../harness/nginx.js';
import { appHosts, pm2BinFor, startPm2, type Pm2 } from '../harness/pm2.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { sshBlock } from '../harness/stage.js';
import { readTemplate } from '../../src/commands/init.js';
import { fetchText } from '../harness/http.js';

const test = suite('zero downtime: an app serving its own assets under pm2 cluster reload');
let ssh: SshHosts;
let nginx: Nginx | undefined;
const pm2s: Pm2[] = [];
const dirs: string[] = [];
let load: LoadRun | undefined;
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(async () => {
  await load?.stop();
  for (const p of pm2s) await p.stop();
  await nginx?.stop();
  dirs.forEach(rmrf);
});

const versionOf = (body: string) => /data-version="([^"]+)"/.exec(body)?.[1];
const chunkOf = (body: string) => /src="(\/assets\/index-[A-Za-z0-9_-]+\.js)"/.exec(body)?.[1];

test('5 deploys with pm2 reload under page+chunk load: no failed request, a new chunk each deploy', async () => {
  const hosts = await appHosts(ssh, 'spa');
  const dir = tmpDir('ship-zd-assets-');
  dirs.push(dir);
  const app = path.join(dir, 'app');
  cpSync(path.join(ROOT, 'fixtures/vite-app'), app, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  const setVersion = (v: string) => writeFileSync(path.join(app, 'VERSION'), `${v}\n`);

  const owner = { uid: ssh.uid, gid: ssh.gid };
  const ecosystems = await Promise.all(hosts.map((h) => readTemplate('pm2/ecosystem.config.cjs', { app: 'app', deployTo: h.deployTo, appPort: String(h.appPort) })));
  assert.match(ecosystems[0], "exec_mode: 'cluster'");

  const config = (reload: string, homes: string[]) => ({
    app: 'app',
    build: { command: 'node app/build.js', dir: 'app' },
    keepReleases: 4,
    assets: { dirs: ['dist/assets'], keep: 3 },
    reload,
    ssh: sshBlock(ssh),
    stages: {
      production: {
        hosts: hosts.map((h) => ({ name: h.name, host: '127.0.0.1', port: h.ssh.port, user: ssh.user, deployTo: h.deployTo, env: { PM2_HOME: homes[h.i] ?? '' } })),
      },
    },
  });
  // First deploy without a reload (nothing runs yet), then start the apps from current/.
  setVersion('1');
  writeConfig(dir, config('true', []));
  const first = await ship(['deploy', 'production'], { cwd: dir });
  assert.is(first.code, 0, first.stderr);
  for (const [i, h] of hosts.entries()) pm2s.push(await startPm2({ ecosystem: ecosystems[i], owner, waitPort: h.appPort }));
  const list = pm2s[0].run(['jlist']);
  const procs = JSON.parse(list.stdout.slice(list.stdout.indexOf('['))) as Array<{ pm2_env: { exec_mode: string } }>;
  assert.is(procs.length, 2, 'two workers');
  assert.ok(procs.every((p) => p.pm2_env.exec_mode === 'cluster_mode'), 'cluster mode');
  writeConfig(dir, config(`${pm2BinFor(owner)} reload app`, pm2s.map((p) => p.home)));

  const servers = await Promise.all(hosts.map((h) => siteFromTemplate({ app: h.name, deployTo: h.deployTo, port: h.port, appPort: h.appPort })));
  nginx = await startNginx({ servers, ports: hosts.map((h) => h.port), owner });
  const url = (h: (typeof hosts)[number], p: string) => `http://127.0.0.1:${h.port}${p}`;

  /** The chunk each host's page names now, fetched and checked. */
  const served = async () => {
    const out: string[] = [];
    for (const h of hosts) {
      const page = await fetchText(url(h, '/'));
      assert.is(page.status, 200, `${h.name} /: ${page.body}`);
      const chunk = chunkOf(page.body);
      assert.ok(chunk, `${h.name}: the page names its entry chunk:\n${page.body}`);
      const js = await fetchText(url(h, chunk!));
      assert.is(js.status, 200, `${h.name} ${chunk}: ${js.body}\n${nginx!.log()}`);
      assert.match(js.body, `entry chunk of version ${versionOf(page.body)}\n`);
      out.push(`${versionOf(page.body)} ${chunk}`);
    }
    return out;
  };
  let before = await served();
  assert.equal(before.map((s) => s.split(' ')[0]), ['1', '1']);

  // A browser: the page, then the chunk it names (on the same worker, right after).
  let pages = 0;
  let chunks = 0;
  const chunkCheck = (version: string) => (r: Response): Verdict => {
    if (r.status !== 200) return { ok: false, reason: `chunk of version ${version}: status ${r.status}` };
    if (!r.body.includes(`entry chunk of version ${version}\n`)) return { ok: false, reason: `chunk of version ${version}: wrong content` };
    chunks++;
    return { ok: true };
  };
  const check = (r: Response): Verdict => {
    if (r.status !== 200) return { ok: false, reason: `status ${r.status}: ${r.body.slice(0, 200)}` };
    const v = versionOf(r.body);
    const chunk = chunkOf(r.body);
    if (!v || !chunk || !r.body.endsWith('</html>\n')) return { ok: false, reason: `incomplete page (${r.body.length} bytes)` };
    pages++;
    return { ok: true, follow: [{ url: new URL(chunk, r.url).href, check: chunkCheck(v) }] };
  };
  load = startLoad({ urls: hosts.flatMap((h) => [url(h, '/'), url(h, '/some/route')]), check, workers: 4, pauseMs: 2, maxMs: 240_000 });
  await new Promise((r) => setTimeout(r, 2000));

  for (let v = 2; v <= 6; v++) {
    setVersion(String(v));
    const r = await ship(['deploy', 'production'], { cwd: dir });
    assert.is(r.code, 0, `deploy of version ${v}: ${r.stderr}\n${r.stdout}`);
    // Every worker was replaced when the deploy ends: the page is the new version's and names a new chunk.
    const now = await served();
    for (const [i, h] of hosts.entries()) {
      const [version, chunk] = now[i].split(' ');
      assert.is(version, String(v), `${h.name} after deploy ${v}`);
      assert.is.not(chunk, before[i].split(' ')[1], `${h.name}: deploy ${v} changed the entry chunk`);
    }
    before = now;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const report = await load.stop();
  load = undefined;

  process.stderr.write(
    `\nzero-downtime assets (pm2 cluster x2 per host, 2 hosts, 5 deploys): ${report.requests} requests (${pages} pages, ${chunks} chunks) in ` +
      `${(report.ms / 1000).toFixed(1)} s, ${report.failures.length} failed, ${report.retried} retried on a reused keep-alive connection\n`,
  );
  if (report.failures.length) process.stderr.write(`failed requests:\n${describeFailures(report.failures, 50)}\n`);
  assert.is(report.failures.length, 0, `failed requests:\n${describeFailures(report.failures)}\n${nginx.log()}`);
  assert.ok(pages >= 300 && chunks === pages, `the load ran: ${pages} pages, ${chunks} chunks`);
});

test.run();

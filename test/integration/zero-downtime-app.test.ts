/**
 * Zero downtime, app: on each of two sshd hosts a real pm2 daemon runs fixtures/pm2-app in
 * cluster mode (2 workers) from current/ (templates/pm2/ecosystem.config.cjs), behind a
 * real nginx (templates/nginx/site.conf proxying to it). A load loop requests pages
 * through nginx during 5 deploys whose reload is `pm2 reload app`: no request fails, and
 * the version served moves from old to new with each deploy.
 */
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailures, outside, quantile, startLoad, within, type Response, type Sample, type Verdict, type LoadRun } from '../harness/load.js';
import { siteFromTemplate, startNginx, type Nginx } from '../harness/nginx.js';
import { appHosts, pm2BinFor, startPm2, type Pm2 } from '../harness/pm2.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import { sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { sshBlock } from '../harness/stage.js';
import { readTemplate } from '../../src/commands/init.js';
import { fetchText } from '../harness/http.js';

const test = suite('zero downtime: pm2 cluster app behind nginx');
let ssh: SshHosts;
let nginx: Nginx | undefined;
const pm2s: Pm2[] = [];
const dirs: string[] = [];
let load: LoadRun | undefined; // stopped in after() too, when an assertion ends the test early
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

function switchWindow(r: ShipRun): [number, number] | undefined {
  const rollout = r.events.filter((e) => e.type === 'step' && ['switch', 'reload', 'health'].includes(e.step) && !e.host);
  const start = rollout.find((e) => e.step === 'switch' && e.status === 'start');
  const end = rollout.filter((e) => e.status === 'done').at(-1);
  return start && end ? [Date.parse(start.time), Date.parse(end.time)] : undefined;
}

test('5 deploys with pm2 reload under load: no failed request, the version moves forward', async () => {
  const hosts = await appHosts(ssh, 'app');
  const dir = tmpDir('ship-zd-app-');
  dirs.push(dir);
  const build = path.join(dir, 'app');
  cpSync(path.join(ROOT, 'fixtures/pm2-app'), build, { recursive: true });
  const setVersion = (v: string) => writeFileSync(path.join(build, 'VERSION'), `${v}\n`);

  // pm2 homes first (their paths go into the config), started after the first deploy.
  const owner = { uid: ssh.uid, gid: ssh.gid };
  const ecosystems = await Promise.all(hosts.map((h) => readTemplate('pm2/ecosystem.config.cjs', { app: 'app', deployTo: h.deployTo, appPort: String(h.appPort) })));
  assert.match(ecosystems[0], "exec_mode: 'cluster'");

  setVersion('1');
  const config = (homes: string[]) => ({
    app: 'app',
    build: { dir: 'app' },
    keepReleases: 3,
    reload: `${pm2BinFor(owner)} reload app`,
    ssh: sshBlock(ssh),
    stages: {
      production: {
        hosts: hosts.map((h) => ({ name: h.name, host: '127.0.0.1', port: h.ssh.port, user: ssh.user, deployTo: h.deployTo, env: { PM2_HOME: homes[h.i] ?? '' } })),
      },
    },
  });
  // First deploy without a reload (nothing runs yet), then start the apps from current/.
  writeConfig(dir, { ...config([]), reload: 'true' });
  const first = await ship(['deploy', 'production'], { cwd: dir });
  assert.is(first.code, 0, first.stderr);
  for (const [i, h] of hosts.entries()) pm2s.push(await startPm2({ ecosystem: ecosystems[i], owner, waitPort: h.appPort }));
  const list = pm2s[0].run(['jlist']);
  const procs = JSON.parse(list.stdout.slice(list.stdout.indexOf('['))) as Array<{ pm2_env: { exec_mode: string } }>;
  assert.is(procs.length, 2, 'two workers');
  assert.ok(procs.every((p) => p.pm2_env.exec_mode === 'cluster_mode'), 'cluster mode');
  writeConfig(dir, config(pm2s.map((p) => p.home)));

  const servers = await Promise.all(hosts.map((h) => siteFromTemplate({ app: h.name, deployTo: h.deployTo, port: h.port, appPort: h.appPort })));
  nginx = await startNginx({ servers, ports: hosts.map((h) => h.port), owner });
  const url = (h: (typeof hosts)[number], p: string) => `http://127.0.0.1:${h.port}${p}`;
  for (const h of hosts) assert.is(versionOf((await fetchText(url(h, '/'))).body), '1', nginx.log());

  // Versions seen, in order of the responses.
  const seen: Array<{ t: number; host: string; version: string }> = [];
  const check = (host: string) => (r: Response): Verdict => {
    if (r.status !== 200) return { ok: false, reason: `status ${r.status}: ${r.body.slice(0, 200)}` };
    const v = versionOf(r.body);
    if (!v || !r.body.endsWith(`<p>end of version ${v}</p>\n</body></html>\n`)) return { ok: false, reason: `incomplete page (${r.body.length} bytes)` };
    seen.push({ t: Date.now(), host, version: v });
    return { ok: true };
  };
  const pages = hosts.flatMap((h) => ['/', '/page', '/about'].map((p) => ({ u: url(h, p), c: check(h.name) })));
  const checks = new Map(pages.map((p) => [p.u, p.c]));
  load = startLoad({ urls: pages.map((p) => p.u), check: (r) => checks.get(r.url)!(r), workers: 4, pauseMs: 2, maxMs: 240_000 });
  await new Promise((r) => setTimeout(r, 3000));

  const runs: ShipRun[] = [];
  for (let v = 2; v <= 6; v++) {
    setVersion(String(v));
    const r = await ship(['deploy', 'production', '--json'], { cwd: dir });
    assert.is(r.code, 0, `deploy of version ${v}: ${r.stderr}\n${r.stdout}`);
    runs.push(r);
    // pm2 reload has replaced every worker when the deploy ends: only the new version answers.
    for (const h of hosts) {
      for (let k = 0; k < 6; k++) assert.is(versionOf((await fetchText(url(h, '/'))).body), String(v), `${h.name} after deploy ${v}`);
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  const report = await load.stop();
  load = undefined;

  // Per host, the versions served never go back (a worker of an old release never answers after a new one did).
  for (const h of hosts) {
    const vs = seen.filter((s) => s.host === h.name).map((s) => Number(s.version));
    const back = vs.findIndex((x, i) => i > 0 && x < vs[i - 1]);
    // Workers are replaced one by one, so old and new may alternate within one reload, but never across deploys.
    if (back >= 0) assert.ok(vs[back - 1] - vs[back] <= 1, `${h.name}: version ${vs[back]} answered after ${vs[back - 1]}`);
    assert.is(vs[0], 1);
    assert.is(vs.at(-1), 6);
    assert.equal([...new Set(vs)].sort(), [1, 2, 3, 4, 5, 6], `${h.name} served every version in turn`);
  }

  const windows = runs.map(switchWindow).filter((x): x is [number, number] => !!x);
  const runWindows: Array<[number, number]> = runs.map((r) => [Date.parse(r.events[0]?.time ?? '0'), Date.parse(r.events.at(-1)!.time)]);
  const during = within(report.samples, windows);
  const rest = outside(report.samples, runWindows);
  const fmt = (s: Sample[]) => `p50 ${quantile(s, 0.5)} ms, p99 ${quantile(s, 0.99)} ms, max ${quantile(s, 1)} ms over ${s.length}`;
  process.stderr.write(
    [
      '',
      `zero-downtime app (pm2 cluster x2 per host, 2 hosts): ${report.requests} requests in ${(report.ms / 1000).toFixed(1)} s, ` +
        `${report.failures.length} failed, ${report.retried} retried on a reused keep-alive connection`,
      `  during switch+pm2 reload (5 deploys): ${fmt(during)}`,
      `  at rest (no ship running):            ${fmt(rest)}`,
      '',
    ].join('\n'),
  );
  if (report.failures.length) process.stderr.write(`failed requests:\n${describeFailures(report.failures, 50)}\n`);
  assert.is(report.failures.length, 0, `failed requests:\n${describeFailures(report.failures)}\n${nginx.log()}`);
  assert.ok(during.length > 0, 'requests were made during the reloads');
});

test.run();

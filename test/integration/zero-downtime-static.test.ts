/**
 * Zero downtime, static site: a real nginx (configured from templates/nginx/site.conf)
 * serves two sshd hosts' current/public while a load loop requests pages through it,
 * and fetches each page's fingerprinted assets right after the page, during 10 deploys
 * and 5 rollbacks. Every response must be a complete 200 and every asset must be found
 * (asset carry-over, both directions). Latency figures are printed, not asserted.
 */
import { cpSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailures, quantile, startLoad, within, outside, type Response, type Sample, type Verdict, type LoadRun } from '../harness/load.js';
import { siteFromTemplate, startNginx, type Nginx } from '../harness/nginx.js';
import { ROOT, rmrf, ship, tmpDir, writeConfig, type ShipRun } from '../harness/ship.js';
import { freePort, sharedSshHosts, type SshHosts } from '../harness/sshd.js';
import { sshBlock } from '../harness/stage.js';
import { writeFileSync } from 'node:fs';
import { fetchText } from '../harness/http.js';

const test = suite('zero downtime: static site behind nginx');
let ssh: SshHosts;
let nginx: Nginx | undefined;
const dirs: string[] = [];
let load: LoadRun | undefined; // stopped in after() too, when an assertion ends the test early
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(async () => {
  await load?.stop();
  await nginx?.stop();
  dirs.forEach(rmrf);
});

interface Web {
  name: string;
  port: number;
  deployTo: string;
}


const versionOf = (body: string) => /<meta name="site-version" content="([^"]+)">/.exec(body)?.[1];
const assetsOf = (body: string) => [...body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);

/** A page is whole when it ends as the build wrote it. */
function pageOk(body: string): string | undefined {
  const v = versionOf(body);
  if (!v) return 'no version in the page';
  if (!body.endsWith(`<p id="end">end of version ${v}</p>\n</body>\n</html>\n`)) return `page of version ${v} is cut short (${body.length} bytes)`;
  if (assetsOf(body).length !== 2) return 'page names no assets';
  return undefined;
}

/** [first switch start, last rollout step done] of a run, from its --json events. */
function switchWindow(r: ShipRun): [number, number] | undefined {
  const rollout = r.events.filter((e) => e.type === 'step' && ['switch', 'reload', 'health'].includes(e.step) && !e.host);
  const start = rollout.find((e) => e.step === 'switch' && e.status === 'start');
  const end = rollout.filter((e) => e.status === 'done').at(-1);
  if (!start || !end) return undefined;
  return [Date.parse(start.time), Date.parse(end.time)];
}

test('10 deploys and 5 rollbacks under load: no failed request, every page finds its assets', async () => {
  const sub = `zd-static-${randomBytes(3).toString('hex')}`;
  const webs: Web[] = [];
  for (const h of ssh.hosts.slice(0, 2)) webs.push({ name: `web-${h.name}`, port: await freePort(), deployTo: path.join(h.deployRoot, sub) });
  const servers = await Promise.all(webs.map((w) => siteFromTemplate({ app: w.name, deployTo: w.deployTo, port: w.port })));
  // And a balancer over the two, as in front of two web servers. Hosts flip a moment apart,
  // so a page from a host that has switched may name an asset that a host that has not yet
  // lacks: for assets the balancer tries the other server on a 404 (the template's advice).
  const lb: Web = { name: 'balancer', port: await freePort(), deployTo: '' };
  servers.push(
    [
      'upstream static_pool {',
      ...webs.map((w) => `    server 127.0.0.1:${w.port};`),
      '}',
      'server {',
      `    listen 127.0.0.1:${lb.port};`,
      '    location / { proxy_pass http://static_pool; proxy_next_upstream error timeout; }',
      '    location /assets/ { proxy_pass http://static_pool; proxy_next_upstream error timeout http_404; }',
      '}',
    ].join('\n'),
  );
  nginx = await startNginx({ servers, ports: [...webs.map((w) => w.port), lb.port], owner: { uid: ssh.uid, gid: ssh.gid } });

  const dir = tmpDir('ship-zd-static-');
  dirs.push(dir);
  cpSync(path.join(ROOT, 'fixtures/static-site'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  writeConfig(dir, {
    app: 'site',
    build: { command: 'node build.mjs', dir: 'dist' },
    keepReleases: 4,
    assets: { dirs: ['public/assets'], keep: 2 },
    reload: nginx.reloadCommand,
    ssh: sshBlock(ssh),
    stages: {
      production: {
        hosts: webs.map((w, i) => ({ name: w.name, host: '127.0.0.1', port: ssh.hosts[i].port, user: ssh.user, deployTo: w.deployTo })),
      },
    },
  });
  const versionOfRelease = new Map<string, string>();
  const runs: ShipRun[] = [];
  async function run(args: string[], version?: string): Promise<string> {
    if (version) writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
    const r = await ship([...args, '--json'], { cwd: dir });
    assert.is(r.code, 0, `ship ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
    runs.push(r);
    const release = r.events.at(-1)!.release as string;
    if (version) versionOfRelease.set(release, version);
    return release;
  }
  const url = (w: Web, p: string) => `http://127.0.0.1:${w.port}${p}`;
  const currentOf = (w: Web) => path.basename(readlinkSync(path.join(w.deployTo, 'current')));

  await run(['deploy', 'production'], '1');
  for (const w of webs) {
    const r = await fetchText(url(w, '/'));
    assert.is(r.status, 200, nginx.log());
    assert.is(versionOf(r.body), '1');
  }

  // Page -> assets pairs seen by the load loop, with the release `current` named when the assets went out.
  const pairs: Array<{ version: string; currentAtAssets: string }> = [];
  let pages = 0; // pages through the balancer
  const check = (w: Web) => (res: Response): Verdict => {
    if (res.status !== 200) return { ok: false, reason: `status ${res.status}` };
    const bad = pageOk(res.body);
    if (bad) return { ok: false, reason: bad };
    const version = versionOf(res.body)!;
    if (w !== lb) pairs.push({ version, currentAtAssets: currentOf(w) });
    else pages += 1;
    return {
      ok: true,
      follow: assetsOf(res.body).map((a) => ({
        url: url(w, a),
        check: (ar: Response): Verdict =>
          ar.status !== 200
            ? { ok: false, reason: `asset ${a} of a version ${version} page: status ${ar.status}` }
            : new RegExp(`version ${version}\\b`).test(ar.body)
              ? { ok: true }
              : { ok: false, reason: `asset ${a} is not version ${version}'s` },
      })),
    };
  };
  const urls = [...webs, lb].flatMap((w) => ['/', '/about.html', '/index.html'].map((p) => ({ w, u: url(w, p) })));
  const checks = new Map(urls.map((p) => [p.u, check(p.w)]));
  load = startLoad({ urls: urls.map((p) => p.u), check: (r) => checks.get(r.url)!(r), workers: 4, pauseMs: 2, maxMs: 240_000 });

  await new Promise((r) => setTimeout(r, 3000)); // at rest
  // The model of what is live: good releases in order; a rollback drops the newest.
  const good = [versionOfRelease.keys().next().value as string];
  let version = 1;
  let crossed = 0;
  for (let i = 0; i < 15; i++) {
    const w = webs[i % 2];
    // A page fetched before the switch, its assets after it: found, and the old page's own.
    const before = await fetchText(url(w, '/'));
    assert.is(pageOk(before.body), undefined);
    const rollback = i % 3 === 2;
    if (rollback) {
      const to = await run(['rollback', 'production']);
      good.pop();
      assert.is(to, good.at(-1), `rollback ${i} went to the previous good release`);
    } else {
      version += 1;
      good.push(await run(['deploy', 'production'], String(version)));
    }
    const live = versionOfRelease.get(good.at(-1)!)!;
    for (const x of webs) {
      assert.is(versionOf((await fetchText(url(x, '/'))).body), live, `${x.name} serves version ${live} after step ${i}`);
    }
    const oldVersion = versionOf(before.body)!;
    assert.is.not(oldVersion, live, 'the page was fetched before the switch');
    for (const a of assetsOf(before.body)) {
      const r = await fetchText(url(w, a));
      assert.is(r.status, 200, `${rollback ? 'rollback' : 'deploy'} ${i}: asset ${a} of the version ${oldVersion} page, fetched after the switch to ${live}`);
      assert.match(r.body, new RegExp(`version ${oldVersion}\\b`), `asset ${a} is version ${oldVersion}'s`);
      crossed++;
    }
  }
  await new Promise((r) => setTimeout(r, 2000)); // at rest again
  const report = await load.stop();
  load = undefined;

  const windows = runs.map(switchWindow).filter((x): x is [number, number] => !!x);
  const runWindows: Array<[number, number]> = runs.map((r) => [Date.parse(r.events[0]?.time ?? '0'), Date.parse(r.events.at(-1)!.time)]);
  const during = within(report.samples, windows);
  const rest = outside(report.samples, runWindows);
  const acrossInLoop = pairs.filter((p) => versionOfRelease.get(p.currentAtAssets) !== p.version).length;
  const fmt = (s: Sample[]) => `p50 ${quantile(s, 0.5)} ms, p99 ${quantile(s, 0.99)} ms, max ${quantile(s, 1)} ms over ${s.length}`;
  process.stderr.write(
    [
      '',
      `zero-downtime static: ${report.requests} requests in ${(report.ms / 1000).toFixed(1)} s (${report.requests - pairs.length - pages} assets, ${pages} pages through the balancer), ` +
        `${report.failures.length} failed, ${report.retried} retried on a reused keep-alive connection`,
      `  during switches (switch..health of 15 runs): ${fmt(during)}`,
      `  at rest (no ship running):                   ${fmt(rest)}`,
      `  page->asset pairs across a switch: ${acrossInLoop} in the load loop, ${crossed} forced`,
      '',
    ].join('\n'),
  );
  if (report.failures.length) process.stderr.write(`failed requests:\n${describeFailures(report.failures, 50)}\n`);
  assert.is(report.failures.length, 0, `failed requests:\n${describeFailures(report.failures)}\n${nginx.log()}`);
  assert.ok(pairs.length > 100 && pages > 50, 'the load loop ran, on the hosts and through the balancer');
  assert.ok(during.length > 0, 'requests were made during the switches');
});

test.run();

import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { colorFigures, figures, judge, parseLine, quantile, weightsFor, type Figures } from '../../src/colors/gates.js';
import { fillCommand, newRouteToken, renderRouter } from '../../src/colors/router.js';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../harness/config.js';
import { checkNginxConfig } from '../harness/nginx.js';

const ports = { blue: 3001, green: 3002 };

const log = suite('access log parsing');
log('a line of the ship_colors format: upstream, status, request time', () => {
  assert.equal(parseLine('2026-11-30T05:00:00+00:00 127.0.0.1:3002 200 0.004'), { upstream: '127.0.0.1:3002', status: 200, time: 0.004 });
});
log('several upstreams tried: the last one answered', () => {
  assert.equal(parseLine('t 127.0.0.1:3001, 127.0.0.1:3002 502 1.250')?.upstream, '127.0.0.1:3002');
  assert.equal(parseLine('t 127.0.0.1:3001 : 127.0.0.1:3002 200 0.1')?.upstream, '127.0.0.1:3002');
});
log('no upstream (static file, nginx answered itself) and garbage are skipped', () => {
  assert.is(parseLine('t - 404 0.000'), undefined);
  assert.is(parseLine(''), undefined);
  assert.is(parseLine('not a log line'), undefined);
});
log('figures per color by port; other upstreams are not counted', () => {
  const text = [
    't 127.0.0.1:3001 200 0.010',
    't 127.0.0.1:3001 200 0.020',
    't 127.0.0.1:3002 500 0.001',
    't 127.0.0.1:3002 200 0.003',
    't 127.0.0.1:9999 500 0.003',
    'partial line without newl',
  ].join('\n');
  const f = colorFigures(text, ports);
  assert.is(f.blue.requests, 2);
  assert.is(f.blue.errors, 0);
  assert.is(f.green.requests, 2);
  assert.is(f.green.errors, 1);
  assert.is(f.green.errorRate, 50);
  assert.is(f.blue.p95, 0.02);
});
log('p95 by nearest rank', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.is(quantile(v, 0.95), 95);
  assert.is(quantile([7], 0.95), 7);
  assert.ok(Number.isNaN(quantile([], 0.95)));
});
log.run();

const gates = { errorRate: 0.5, p95: 1.5, minRequests: 50 };
const fig = (requests: number, errors: number, p95: number): Figures => ({ requests, errors, errorRate: (100 * errors) / requests, p95 });
const g = suite('canary gates');
g('a new color as good as the old passes', () => {
  assert.equal(judge(fig(100, 0, 0.01), fig(900, 0, 0.01), gates, false), { ok: true });
});
g('5xx on a fifth of the requests fails errorRate, naming both colors figures', () => {
  const v = judge(fig(100, 20, 0.01), fig(900, 1, 0.01), gates, false, { fresh: 'new', old: 'old' });
  assert.is(v.ok, false);
  if (v.ok) return;
  assert.is(v.gate, 'errorRate');
  assert.match(v.message, '20 %');
  assert.match(v.message, 'new: 100 requests, 20 5xx');
  assert.match(v.message, 'old: 900 requests, 1 5xx');
});
g('errorRate allows the given percentage points above the old rate', () => {
  assert.is(judge(fig(1000, 15, 0.01), fig(1000, 10, 0.01), gates, false).ok, true); // 1.5 % vs 1.0 %
  assert.is(judge(fig(1000, 16, 0.01), fig(1000, 10, 0.01), gates, false).ok, false); // 1.6 % vs 1.0 %
});
g('p95: more than the factor (and more than 10 ms) slower fails', () => {
  const v = judge(fig(100, 0, 0.4), fig(900, 0, 0.2), gates, false);
  assert.is(!v.ok && v.gate, 'p95');
  assert.is(judge(fig(100, 0, 0.29), fig(900, 0, 0.2), gates, false).ok, true);
  // nginx's millisecond resolution: 0 vs 4 ms is no regression.
  assert.is(judge(fig(100, 0, 0.004), fig(900, 0, 0), gates, false).ok, true);
});
g('too few requests: wait, then fail minRequests once no more waiting is allowed', () => {
  const w = judge(fig(10, 0, 0.01), fig(900, 0, 0.01), gates, false);
  assert.is(!w.ok && w.gate, 'minRequests');
  assert.is(!w.ok && w.wait, true);
  const f = judge(fig(10, 0, 0.01), fig(900, 0, 0.01), gates, true);
  assert.is(!f.ok && f.gate, 'minRequests');
  assert.is(!f.ok && !!f.wait, false);
});
g('weights of a step', () => {
  assert.equal(weightsFor('green', 10), { green: 10, blue: 90 });
  assert.equal(weightsFor('blue', 100), { blue: 100, green: 0 });
});
g('figures of no requests', () => {
  const f = figures([]);
  assert.is(f.requests, 0);
  assert.is(f.errorRate, 0);
});
g.run();

const r = suite('router file');
const TOKEN = '0123456789abcdef0123456789abcdef';
const HELPER = new URL('../../templates/nginx-bluegreen-router.sh', import.meta.url).pathname;
const helper = (args: Array<string | number>) => execFileSync('sh', [HELPER, ...args.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
r('split: both colors weighted, the cookie map pins a browser to a color taking traffic', () => {
  const text = renderRouter('shop', ports, { blue: 90, green: 10 }, TOKEN);
  assert.match(text, 'server 127.0.0.1:3001 weight=90;');
  assert.match(text, 'server 127.0.0.1:3002 weight=10;');
  assert.match(text, new RegExp(`map \\$cookie_ship_route \\$shop_upstream \\{[^}]*${TOKEN}-blue shop_blue;[^}]*${TOKEN}-green shop_green;`));
  assert.match(text, `"ship_route=${TOKEN}-green; Path=/; HttpOnly; SameSite=Lax\${shop_route_secure}";`);
});
r('the cookie is Secure on HTTPS: a map on $scheme', () => {
  const text = renderRouter('shop', ports, { blue: 90, green: 10 }, TOKEN);
  assert.match(text, /map \$scheme \$shop_route_secure \{\n    default "";\n    https "; Secure";\n\}/);
});
r('the cookie is the rollout\'s token, not the release: nothing about a release is in the file', () => {
  const text = renderRouter('shop', ports, { blue: 90, green: 10 }, TOKEN);
  const values = [...text.matchAll(/ship_route=([^;]*);/g)].map((m) => m[1]);
  assert.equal(values, [`${TOKEN}-blue`, `${TOKEN}-green`]);
  assert.not.match(text, /20\d{6}/);
});
r('one color at 100 % with the rollout\'s token (before the first split, after the last step): the cookie routes both colors, only the live one hands it out', () => {
  const text = renderRouter('shop', ports, { blue: 100, green: 0 }, TOKEN);
  assert.match(/map \$cookie_ship_route[^}]*\}/.exec(text)![0], `${TOKEN}-green shop_green;`);
  const cookie = /map \$upstream_addr[^}]*\}/.exec(text)![0];
  assert.match(cookie, `ship_route=${TOKEN}-blue;`);
  assert.not.match(cookie, `${TOKEN}-green`);
});
r('one color at 100 %: the other is left out of the split (nginx has no weight 0) and the cookie is ignored', () => {
  const text = renderRouter('shop', ports, { blue: 0, green: 100 });
  const split = /upstream shop_split \{([^}]*)\}/.exec(text)![1];
  assert.not.match(split, '3001');
  assert.match(split, 'server 127.0.0.1:3002 weight=100;');
  assert.not.match(/map \$cookie_ship_route[^}]*\}/.exec(text)![0], 'shop_blue');
  assert.not.match(/map \$upstream_addr[^}]*\}/.exec(text)![0], 'ship_route=');
});
r('newRouteToken: 16 random bytes in hex, a new one each time', () => {
  const a = newRouteToken();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.is.not(a, newRouteToken());
});
r('the root-owned helper renders exactly what renderRouter renders, for the same numbers', () => {
  const cases: Array<[string, Record<'blue' | 'green', number>, Record<'blue' | 'green', number>, string | undefined]> = [
    ['shop', ports, { blue: 90, green: 10 }, TOKEN],
    ['shop', ports, { blue: 100, green: 0 }, TOKEN],
    ['shop', ports, { blue: 0, green: 100 }, undefined],
    ['My_App2', { blue: 65535, green: 1 }, { blue: 1, green: 99 }, 'a.B_c-9xyz'],
    ['x', { blue: 8001, green: 8002 }, { blue: 50, green: 50 }, undefined],
  ];
  for (const [name, p, w, token] of cases) {
    assert.fixture(helper(['--print', name, p.blue, p.green, w.blue, w.green, token ?? '-']), renderRouter(name, p, w, token), `${name} ${JSON.stringify(w)} ${token}`);
  }
});
r('the helper refuses anything but its numbers and words, with a message and exit 2', () => {
  const bad: Array<Array<string | number>> = [
    ['shop', 3001, 3002, '1;', 0, '-'],
    ['shop', 3001, 3002, 101, 0, '-'],
    ['shop', 3001, 3002, 0, 0, '-'],
    ['shop', 3001, 3002, '010', 0, '-'],
    ['shop', 3001, 3002, -1, 0, '-'],
    ['shop', 0, 3002, 100, 0, '-'],
    ['shop', 65536, 3002, 100, 0, '-'],
    ['shop', 3001, 3001, 100, 0, '-'],
    ['shop', '3001 ', 3002, 100, 0, '-'],
    ['../etc/passwd', 3001, 3002, 100, 0, '-'],
    ['shop;', 3001, 3002, 100, 0, '-'],
    ['a'.repeat(65), 3001, 3002, 100, 0, '-'],
    ['', 3001, 3002, 100, 0, '-'],
    ['shop', 3001, 3002, 90, 10, 'x shop_blue; } server { listen 1; } #'],
    ['shop', 3001, 3002, 90, 10, 'abcdefgh\n}'],
    ['shop', 3001, 3002, 90, 10, '/root/.ssh/authorized_keys'],
    ['shop', 3001, 3002, 90, 10, 'short'],
    ['shop', 3001, 3002, 90, 10, 'a'.repeat(65)],
    ['shop', 3001, 3002, 90, 10],
    ['shop', 3001, 3002, 90, 10, TOKEN, 'extra'],
  ];
  for (const args of bad) {
    try {
      helper(['--print', ...args]);
      assert.unreachable(`accepted ${JSON.stringify(args)}`);
    } catch (e) {
      const err = e as { status?: number; stderr?: string; stdout?: string };
      assert.is(err.status, 2, `${JSON.stringify(args)}: ${err.stderr}`);
      assert.match(err.stderr ?? '', /^ship-nginx-router: (refused|usage)/, JSON.stringify(args));
      assert.is(err.stdout, '', 'prints nothing');
    }
  }
});
r('nginx accepts the file and the blue-green site that includes it', async () => {
  const { readTemplate } = await import('../../src/commands/init.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/ship-router-');
  try {
    writeFileSync(`${dir}/shop.conf`, renderRouter('shop', ports, { blue: 90, green: 10 }, TOKEN));
    const site = (await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: dir, listen: '127.0.0.1:8080', serverName: 'localhost' }))
      .replaceAll('include /etc/nginx/ship/shop.conf;', `include ${dir}/shop.conf;`)
      .replaceAll('/var/log/nginx/shop-colors.log', `${dir}/shop-colors.log`);
    assert.match(site, "log_format shop_colors '$time_iso8601 $upstream_addr $status $request_time $cookie_ship_route';");
    const v = checkNginxConfig([site]);
    assert.ok(v.ok, v.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
r('placeholders in start/stop commands become quoted words', () => {
  const cmd = fillCommand('cd {releasePath} && PORT={port} run --color {color} --release {release}', { release: '2026', releasePath: "/srv/my app's", port: 3001, color: 'blue' });
  assert.is(cmd.text, `cd '/srv/my app'"'"'s' && PORT=3001 run --color blue --release 2026`);
  assert.is(execFileSync('sh', ['-c', fillCommand('printf %s {releasePath}', { release: 'x', releasePath: 'a b;$(id)', port: 1, color: 'green' }).text], { encoding: 'utf8' }), 'a b;$(id)');
});
r.run();

const c = suite('two-color config');
const FILE = '/tmp/ship.config.json';
const base = {
  app: 'shop',
  processes: { start: 'start {port}', stop: 'stop {port}' },
  ports: { blue: 3001, green: 3002 },
  healthcheck: { url: 'http://127.0.0.1:{port}/healthz' },
  stages: { prod: { hosts: ['a.example.com'] } },
};
const problems = (input: object) => configProblems(input, FILE);
c('processes + ports: two colors with defaults (the router helper, log in /var/log/nginx, keepOld)', () => {
  const s = parseConfig(base, FILE).stage('prod');
  assert.equal(s.colors?.router, { command: 'sudo -n /usr/local/sbin/ship-nginx-router', accessLog: '/var/log/nginx/shop-colors.log', name: 'shop' });
  assert.is(s.colors?.keepOld, 'next-deploy');
  assert.equal(s.hosts[0].ports, { blue: 3001, green: 3002 });
});
c('router.file or router.reload: the file mode (nginx running as the deploy user), an explicit opt-in', () => {
  assert.equal(parseConfig({ ...base, router: { reload: 'nginx -s reload' } }, FILE).stage('prod').colors?.router, { file: '.ship/router/upstream.conf', reload: 'nginx -s reload', accessLog: '.ship/router/access.log', name: 'shop' });
  assert.match(problems({ ...base, router: { command: 'sudo -n /x', file: 'a.conf' } }).join('\n'), 'router.command: router.command (the root-owned helper) and router.file/router.reload');
});
c('weighted canary: steps, stepTime and gates with defaults; type canary implied', () => {
  const s = parseConfig({ ...base, strategy: { steps: [1, 10, 100], stepTime: '2s' } }, FILE).stage('prod');
  assert.equal(s.strategy, { type: 'canary', batchSize: 1, canary: 1, steps: [1, 10, 100], stepTime: 2000, gates: { errorRate: 0.5, p95: 1.5, minRequests: 50 } });
});
c('config errors: ports missing, no health check, steps without colors, steps not ending at 100, same ports', () => {
  assert.match(problems({ ...base, ports: undefined }).join('\n'), 'ports: processes need ports');
  assert.match(problems({ ...base, healthcheck: undefined }).join('\n'), 'two colors need a health check');
  assert.match(problems({ ...base, processes: undefined, ports: undefined, strategy: { steps: [1, 100] } }).join('\n'), 'needs two colors');
  assert.match(problems({ ...base, strategy: { steps: [1, 50] } }).join('\n'), 'last step must be 100');
  assert.match(problems({ ...base, strategy: { steps: [50, 10, 100] } }).join('\n'), 'steps must rise');
  assert.match(problems({ ...base, ports: { blue: 1, green: 1 } }).join('\n'), 'different ports');
  assert.match(problems({ ...base, strategy: { type: 'rolling', steps: [1, 100] } }).join('\n'), 'type must be canary');
});
c.run();

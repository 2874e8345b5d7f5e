import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { colorFigures, figures, judge, parseLine, quantile, weightsFor, type Figures } from '../../src/colors/gates.js';
import { fillCommand, renderRouter } from '../../src/colors/router.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
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
r('split: both colors weighted, the cookie map pins a browser to a color taking traffic', () => {
  const text = renderRouter('shop', { ports }, { releases: { blue: 'A', green: 'B' }, weights: { blue: 90, green: 10 } });
  assert.match(text, 'server 127.0.0.1:3001 weight=90;');
  assert.match(text, 'server 127.0.0.1:3002 weight=10;');
  assert.match(text, /map \$cookie_ship_route \$shop_upstream \{[^}]*B-blue shop_blue;[^}]*B-green shop_green;/);
  assert.match(text, /map \$upstream_addr \$shop_route_cookie \{[^}]*"ship_route=B-green; Path=\/; HttpOnly; SameSite=Lax";/);
});
r('one color at 100 %: the other is left out of the split (nginx has no weight 0) and the cookie is ignored', () => {
  const text = renderRouter('shop', { ports }, { releases: { blue: 'A', green: 'B' }, weights: { blue: 0, green: 100 } });
  const split = /upstream shop_split \{([^}]*)\}/.exec(text)![1];
  assert.not.match(split, '3001');
  assert.match(split, 'server 127.0.0.1:3002 weight=100;');
  assert.not.match(/map \$cookie_ship_route[^}]*\}/.exec(text)![0], 'shop_blue');
  assert.not.match(/map \$upstream_addr[^}]*\}/.exec(text)![0], 'ship_route=');
});
r('nginx accepts the file and the blue-green site that includes it', async () => {
  const { readTemplate } = await import('../../src/commands/init.js');
  const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/ship-router-');
  try {
    mkdirSync(`${dir}/.ship/router`, { recursive: true });
    writeFileSync(`${dir}/.ship/router/upstream.conf`, renderRouter('shop', { ports }, { releases: { blue: 'A' }, weights: { blue: 100, green: 0 } }));
    const site = await readTemplate('nginx-bluegreen.conf', { app: 'shop', appVar: 'shop', deployTo: dir, listen: '127.0.0.1:8080', serverName: 'localhost' });
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
const problems = (input: object) => {
  try {
    parseConfig(input, FILE);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
};
c('processes + ports: two colors with defaults (router file, log, reload, keepOld)', () => {
  const s = parseConfig(base, FILE).stage('prod');
  assert.equal(s.colors?.router, { file: '.ship/router/upstream.conf', accessLog: '.ship/router/access.log', reload: 'sudo nginx -s reload', name: 'shop' });
  assert.is(s.colors?.keepOld, 'next-deploy');
  assert.equal(s.hosts[0].ports, { blue: 3001, green: 3002 });
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

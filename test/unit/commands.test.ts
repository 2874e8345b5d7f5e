/** Pure parts of setup, history, config and ProxyJump: redaction, history merging, hop chains, config keys. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeHistory, humanTime } from '../../src/commands/history.js';
import { yamlLike } from '../../src/commands/config.js';
import { isSecretName, parseConfig } from '../../src/config/load.js';
import { redactUrls } from '../../src/redact.js';
import { resolveConnection } from '../../src/transport/resolve.js';
import { rmrf, tmpDir } from '../harness/ship.js';

test('redactUrls hides userinfo and query values wherever a URL appears', () => {
  assert.is(redactUrls('http://u:p@h:8080/x?a=1&b=2#f'), 'http://***:***@h:8080/x?a=***&b=***#***');
  assert.is(redactUrls('curl -fsS "https://hooks.example.com/r?key=abc" && echo ok'), 'curl -fsS "https://hooks.example.com/r?key=***" && echo ok');
  assert.is(redactUrls('psql postgres://app:pw@db/app -f x'), 'psql postgres://***:***@db/app -f x');
  assert.is(redactUrls('http://127.0.0.1:8080/healthz'), 'http://127.0.0.1:8080/healthz');
  assert.is(redactUrls('no urls here'), 'no urls here');
});

test('isSecretName: .env and .env.* anywhere', () => {
  assert.ok(isSecretName('.env'));
  assert.ok(isSecretName('config/.env.production'));
  assert.not.ok(isSecretName('config/app.json'));
  assert.not.ok(isSecretName('env'));
});

test('config: shared.upload (string or {from, secret}) relative to the config file; ssh.proxyJump as list, comma list or none', () => {
  const c = parseConfig(
    {
      app: 'x',
      shared: { upload: { '.env': '.env.prod', 'k/master.key': { from: '/abs/key', secret: true }, 'pub.txt': { from: 'p', secret: false } } },
      stages: { a: { hosts: ['h1'], ssh: { proxyJump: 'j1, u@j2:2222' } }, b: { hosts: ['h1'], ssh: { proxyJump: 'none' } }, c: { hosts: ['h1'] } },
    },
    '/srv/p/ship.config.json',
  );
  assert.equal(c.stage('a').shared.upload, {
    '.env': { from: '/srv/p/.env.prod', secret: true },
    'k/master.key': { from: '/abs/key', secret: true },
    'pub.txt': { from: '/srv/p/p', secret: false },
  });
  assert.equal(c.stage('a').hosts[0].ssh.proxyJump, ['j1', 'u@j2:2222']);
  assert.equal(c.stage('b').hosts[0].ssh.proxyJump, []);
  assert.is(c.stage('c').hosts[0].ssh.proxyJump, undefined);
});

test('ProxyJump a,b from ~/.ssh/config: a chain, each hop resolved; the first hop\'s own ProxyJump followed; config wins', () => {
  const home = tmpDir('ship-unit-home-');
  const oldHome = process.env.HOME;
  try {
    mkdirSync(path.join(home, '.ssh'));
    writeFileSync(
      path.join(home, '.ssh/config'),
      'Host app\n  HostName 10.0.0.9\n  User deploy\n  ProxyJump a,b\nHost a\n  HostName a.example.com\n  Port 2201\n  User ops\n  ProxyJump z\nHost b\n  HostName 10.0.0.2\n  IdentityFile /keys/b\nHost z\n  HostName z.example.com\n  User zed\n',
    );
    process.env.HOME = home;
    const cfg = parseConfig({ app: 'x', ssh: { privateKey: '/keys/main' }, stages: { s: { hosts: ['app'] }, t: { hosts: ['app'], ssh: { proxyJump: 'none' } } } }, '/p/ship.config.json');
    const r = resolveConnection(cfg.stage('s').hosts[0]);
    const me = os.userInfo().username;
    assert.equal(r.hops, [`zed@z.example.com:22`, 'ops@a.example.com:2201', `${me}@10.0.0.2:22`]);
    const b = r.options.jump!;
    const a = b.jump!;
    const z = a.jump!;
    assert.equal([r.options.host, r.options.user, r.options.privateKey], ['10.0.0.9', 'deploy', '/keys/main']);
    assert.equal([b.host, b.port, b.privateKey], ['10.0.0.2', 22, '/keys/b']);
    assert.equal([a.host, a.port, a.user, a.privateKey], ['a.example.com', 2201, 'ops', '/keys/main']);
    assert.equal([z.host, z.user, z.jump], ['z.example.com', 'zed', undefined]);
    assert.equal(r.sources.proxyJump, '~/.ssh/config');
    const none = resolveConnection(cfg.stage('t').hosts[0]);
    assert.equal([none.hops, none.options.jump, none.sources.proxyJump], [[], undefined, 'config']);
  } finally {
    process.env.HOME = oldHome;
    rmrf(home);
  }
});


test('mergeHistory: one event per run across hosts, fields that differ named per host; old lines merged when they agree', () => {
  const run1 = '2026-11-30T10:00:00.000Z-aaaaaa';
  const run2 = '2026-11-30T11:00:00.000Z-bbbbbb';
  const h1 = [
    { time: '2026-11-30T10:00:05Z', action: 'publish' as const, release: 'R1', run: run1, user: 'al' },
    { time: '2026-11-30T10:00:06Z', action: 'switch' as const, release: 'R1', run: run1, user: 'al' },
    { time: '2026-11-30T10:00:07Z', action: 'deploy' as const, release: 'R1', run: run1, user: 'al', durationMs: 7000, outcome: 'ok' as const },
    { time: '2026-11-30T11:00:07Z', action: 'deploy' as const, release: 'R2', previous: 'R1', run: run2, user: 'al', durationMs: 900, outcome: 'failed' as const, exitCode: 1, message: 'h2: boom\nmore' },
    { time: '2026-11-29T09:00:00Z', action: 'switch' as const, release: 'R0', user: 'old' },
  ];
  const h2 = [
    { time: '2026-11-30T10:00:07Z', action: 'deploy' as const, release: 'R1', run: run1, user: 'al', durationMs: 7100, outcome: 'ok' as const },
    { time: '2026-11-30T11:00:07Z', action: 'deploy' as const, release: 'R2', previous: 'R0', run: run2, user: 'al', durationMs: 950, outcome: 'failed' as const, exitCode: 1, message: 'h2: boom' },
    { time: '2026-11-29T09:00:30Z', action: 'switch' as const, release: 'R0', user: 'old' },
  ];
  const ev = mergeHistory([
    { host: 'h1', history: h1 },
    { host: 'h2', history: h2 },
  ]);
  assert.equal(
    ev.map((e) => [e.time, e.action, e.release, e.previous, e.outcome, e.durationMs, e.hosts]),
    [
      ['2026-11-30T11:00:00.000Z', 'deploy', 'R2', undefined, 'failed', 950, ['h1', 'h2']],
      ['2026-11-30T10:00:00.000Z', 'deploy', 'R1', undefined, 'ok', 7100, ['h1', 'h2']],
      ['2026-11-29T09:00:00Z', 'switch', 'R0', undefined, undefined, undefined, ['h1', 'h2']],
    ],
  );
  assert.equal(ev[0].differs, { previous: { h1: 'R1', h2: 'R0' } });
  assert.is(ev[0].message, 'h2: boom');
  assert.is(ev[0].exitCode, 1);
});

test('humanTime: absolute UTC and how long ago', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  assert.is(humanTime('2026-11-30T11:57:00.123Z', now), '2026-11-30 11:57:00 UTC (3 min ago)');
  assert.is(humanTime('2026-11-28T12:00:00Z', now), '2026-11-28 12:00:00 UTC (2 days ago)');
});

test('yamlLike: nested keys, lists, quoting only where needed', () => {
  assert.is(yamlLike({ a: 1, b: 'yes', c: ['x', { d: 'e f' }], e: {}, f: 'has: colon', g: [] }), 'a: 1\nb: "yes"\nc:\n  - x\n  - d: e f\ne: {}\nf: "has: colon"\ng: []');
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { configProblems } from '../harness/config.js';
import { rmrf, tmpDir, writeTree } from '../harness/ship.js';

const FILE = '/srv/project/ship.config.json';

const problems = (input: unknown) => configProblems(input, FILE);

test('top-level keys are defaults; stages merge objects deeply, replace arrays and scalars', () => {
  const cfg = parseConfig(
    {
      app: 'web',
      keepReleases: 5,
      shared: { dirs: ['storage'], files: ['.env'] },
      healthcheck: { url: 'http://127.0.0.1:8080/healthz', timeout: '2s' },
      ssh: { user: 'deploy', strictHostKeyChecking: 'yes' },
      stages: {
        production: {
          keepReleases: 3,
          shared: { dirs: ['uploads'] },
          healthcheck: { retries: 2 },
          hosts: ['web1.example.com', { host: 'web2.example.com', port: 2222, roles: ['db'], ssh: { user: 'ops' } }],
        },
      },
    },
    FILE,
  );
  const s = cfg.stage('production');
  assert.is(s.keepReleases, 3);
  assert.equal(s.shared, { dirs: ['uploads'], files: ['.env'] });
  assert.equal(s.healthcheck, { url: 'http://127.0.0.1:8080/healthz', expect: 200, contains: undefined, timeout: 2000, retries: 2, interval: 1000 });
  assert.equal(s.hosts.map((h) => [h.name, h.address, h.port, h.user, h.roles, h.deployTo]), [
    ['web1.example.com', 'web1.example.com', undefined, 'deploy', [], '/var/www/web'],
    ['web2.example.com:2222', 'web2.example.com', 2222, 'ops', ['db'], '/var/www/web'],
  ]);
  assert.is(s.build.dir, '/srv/project/dist');
});

test('host strings: user@host:port, local, relative local deployTo', () => {
  const s = parseConfig({ app: 'a', stages: { x: { hosts: ['deploy@10.0.0.5:2200', 'local'], deployTo: '~/apps/a' } } }, FILE).stage('x');
  assert.equal([s.hosts[0].user, s.hosts[0].address, s.hosts[0].port, s.hosts[0].name], ['deploy', '10.0.0.5', 2200, '10.0.0.5:2200']);
  assert.is(s.hosts[0].deployTo, '~/apps/a');
  const d = parseConfig({ app: 'a', stages: { demo: { hosts: ['local'], deployTo: './.ship/demo' } } }, FILE).stage('demo');
  assert.is(d.hosts[0].deployTo, '/srv/project/.ship/demo');
  assert.ok(d.hosts[0].local);
});

test('every problem is listed by key path', () => {
  const p = problems({
    app: 'a',
    keepReleases: 0,
    shared: { dirs: ['../up'] },
    strategy: { type: 'sideways' },
    bogus: 1,
    hooks: { 'before:teleport': 'x' },
    stages: { prod: { hosts: ['web1'], deployTo: 'relative/path' }, empty: {} },
  });
  const joined = p.join('\n');
  for (const key of ['keepReleases', 'shared.dirs.0', 'strategy.type', 'bogus']) assert.match(joined, key);
  // Schema errors are reported first; once the shape is right the rules speak.
  const q = problems({ app: 'a', hooks: { 'before:teleport': 'x' }, stages: { prod: { hosts: ['web1'], deployTo: 'relative/path' }, empty: {} } });
  const j2 = q.join('\n');
  assert.match(j2, 'hooks.before:teleport: unknown hook');
  assert.match(j2, "'relative/path' must be absolute or start with ~/");
  assert.match(j2, 'stages.empty.hosts: a stage needs at least one host');
});

test('host commands in hooks that run before connecting are refused when the config loads', () => {
  const p = problems({ app: 'a', hooks: { 'before:build': ['local:npm ci', 'touch x'], 'after:connect': 'touch y' }, stages: { s: { hosts: ['local'] } } });
  assert.equal(p, ['hooks.before:build.1: a host command cannot run here: the hosts are not connected yet']);
});

test('two hosts with one address need names', () => {
  const p = problems({ app: 'a', stages: { s: { hosts: ['web1', 'deploy@web1'] } } });
  assert.match(p.join('\n'), "host name 'web1' is used twice");
  assert.equal(problems({ app: 'a', stages: { s: { hosts: [{ host: 'web1', name: 'a' }, { host: 'web1', name: 'b' }] } } }), []);
});

test('overlapping shared paths are refused', () => {
  assert.match(problems({ app: 'a', shared: { dirs: ['storage'], files: ['storage/x'] }, stages: { s: { hosts: ['local'] } } }).join(), 'overlap');
});

test('unknown stage is a usage error naming the stages', () => {
  const cfg = parseConfig({ app: 'a', stages: { production: { hosts: ['local'] } } }, FILE);
  try {
    cfg.stage('prod');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as UsageError).exitCode, 2);
    assert.match((e as UsageError).hint!, 'production');
  }
});

test('cosmiconfig search: nearest config wins, app defaults to the package name, yaml and ts configs load', async () => {
  const dir = tmpDir();
  try {
    writeTree(dir, {
      'package.json': JSON.stringify({ name: 'mono', private: true }),
      'ship.config.yaml': 'app: root\nstages:\n  s: { hosts: [local] }\n',
      'packages/web/package.json': JSON.stringify({ name: '@acme/web', ship: { stages: { production: { hosts: ['local'], deployTo: '/tmp/x' } } } }),
      'packages/api/ship.config.ts': "const port: number = 2222;\nexport default { app: 'api', stages: { p: { hosts: [{ host: 'h', port }] } } };\n",
      'packages/other/src/.keep': '',
    });
    const web = await loadConfig({ cwd: path.join(dir, 'packages/web') });
    assert.is(web.stage('production').app, 'web');
    const root = await loadConfig({ cwd: path.join(dir, 'packages/other/src') });
    assert.is(root.stage('s').app, 'root');
    const api = await loadConfig({ cwd: path.join(dir, 'packages/api') });
    assert.is(api.stage('p').hosts[0].port, 2222);
  } finally {
    rmrf(dir);
  }
});

test('no config anywhere is a usage error', async () => {
  const dir = tmpDir();
  try {
    await loadConfig({ cwd: dir, configFile: 'missing.json' }).then(
      () => assert.unreachable(),
      (e) => assert.is(e.exitCode, 2),
    );
  } finally {
    rmrf(dir);
  }
});


test('host-object env keys are checked like stage env keys; lock.staleAfter is a duration (default 2m)', () => {
  const p = problems({ app: 'a', stages: { s: { hosts: [{ host: 'web1', env: { 'BAD-KEY': 'x', OK_KEY: 'y' } }] } } });
  assert.match(p.join('\n'), 'hosts.0.env.BAD-KEY');
  assert.not.match(p.join('\n'), 'OK_KEY');
  assert.match(problems({ app: 'a', lock: { staleAfter: 'soon' }, stages: { s: { hosts: ['local'] } } }).join('\n'), 'lock.staleAfter');
  const s = parseConfig({ app: 'a', stages: { s: { hosts: ['local'] }, t: { hosts: ['local'], lock: { staleAfter: '30s' } } } }, '/x/ship.config.json');
  assert.is(s.stage('s').lock.staleAfterMs, 120_000);
  assert.is(s.stage('t').lock.staleAfterMs, 30_000);
});

test('lock.staleAfter has a floor of 10 s: below it is a config error naming the key path', () => {
  assert.equal(problems({ app: 'a', lock: { staleAfter: '5s' }, stages: { s: { hosts: ['local'] }, t: { hosts: ['local'] } } }), ['lock.staleAfter: 5.0s is too short: a live lock would look stale after a slow heartbeat or two']);
  assert.equal(problems({ app: 'a', stages: { s: { hosts: ['local'], lock: { staleAfter: 9999 } } } }).map((l) => l.split(':')[0]), ['stages.s.lock.staleAfter']);
  assert.equal(problems({ app: 'a', stages: { s: { hosts: ['local'], lock: { staleAfter: '10s' } } } }), []);
});

test.run();

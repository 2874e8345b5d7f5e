/**
 * Hooks over three real sshd hosts: the SHIP_* environment host commands get, where they
 * run, `local:` commands once per step (once per batch for switch/reload/health), a
 * failing before: hook, and the `failed` hook (after exit 1, never after a lock refusal).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../harness/sshd.js';
import { eventsOf, explain, startFleet, type Fleet } from './strategies-fleet.js';

const test = suite<{ f?: Fleet }>('hooks', {});
test.after.each(async (ctx) => {
  await ctx.f?.stop();
  ctx.f = undefined;
});

const release = (r: { events: Array<Record<string, any>> }) => r.events.find((e) => e.type === 'summary')?.release as string;
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const envDump = (name: string) => `{ env | grep '^SHIP_' | sort; echo "PWD=$PWD"; } > "$SHIP_DEPLOY_TO/${name}.env"`;
const parseEnv = (text: string | undefined) => Object.fromEntries((text ?? '').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('host hooks get SHIP_* values and run in the release dir', async (ctx) => {
  const f = (ctx.f = await startFleet('hookenv', { apps: false }));
  f.configure({ hooks: { 'after:publish': [envDump('after-publish')], 'after:switch': [envDump('after-switch')] } });
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  for (const h of f.hosts) {
    const env = parseEnv(f.read(h, 'after-publish.env'));
    assert.equal(env, {
      SHIP_DEPLOY_TO: h.deployTo,
      SHIP_HOST: h.name,
      SHIP_PREVIOUS_RELEASE: '',
      SHIP_RELEASE: v1,
      SHIP_RELEASE_PATH: `${h.deployTo}/releases/${v1}`,
      SHIP_STAGE: 'prod',
      PWD: `${h.deployTo}/releases/${v1}`,
    });
  }
  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);
  for (const h of f.hosts) {
    for (const which of ['after-publish', 'after-switch']) {
      const env = parseEnv(f.read(h, `${which}.env`));
      assert.is(env.SHIP_RELEASE, v2, which);
      assert.is(env.SHIP_PREVIOUS_RELEASE, v1, which);
      assert.is(env.SHIP_HOST, h.name);
      assert.is(env.PWD, `${h.deployTo}/releases/${v2}`);
    }
  }
});

test('local: hooks run once per step on the deployer; once per batch for switch, reload and health', async (ctx) => {
  const f = (ctx.f = await startFleet('hooklocal'));
  const log = path.join(f.dir, 'local.log');
  const local = (name: string) => `local:echo "${name} $SHIP_STAGE $SHIP_RELEASE [$SHIP_HOST] $SHIP_HOSTS $(basename "$PWD")" >> local.log`;
  f.configure({
    hooks: {
      'before:upload': [local('before:upload')],
      'after:publish': [local('after:publish')],
      'before:switch': [local('before:switch')],
      'after:health': [local('after:health')],
    },
  });
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  const dirName = path.basename(f.dir);
  assert.equal(lines(log), [
    `before:upload prod ${v1} [] host1,host2,host3 ${dirName}`,
    `after:publish prod ${v1} [] host1,host2,host3 ${dirName}`,
    `before:switch prod ${v1} [] host1,host2,host3 ${dirName}`,
    `after:health prod ${v1} [] host1,host2,host3 ${dirName}`,
  ]);
  writeFileSync(log, '');
  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json', '--strategy', 'canary', '--canary', '1', '--batch', '2');
  assert.is(r2.code, 0, explain(r2));
  const v2 = release(r2);
  assert.equal(lines(log), [
    `before:upload prod ${v2} [] host1,host2,host3 ${dirName}`,
    `after:publish prod ${v2} [] host1,host2,host3 ${dirName}`,
    `before:switch prod ${v2} [] host1 ${dirName}`,
    `after:health prod ${v2} [] host1 ${dirName}`,
    `before:switch prod ${v2} [] host2,host3 ${dirName}`,
    `after:health prod ${v2} [] host2,host3 ${dirName}`,
  ]);
});

test('a failing before: hook fails the deploy at that step: exit 1, nothing switched, failed hook once', async (ctx) => {
  const f = (ctx.f = await startFleet('hookfail', { apps: false }));
  const r1 = await f.ship('deploy', 'prod', '--json');
  assert.is(r1.code, 0, explain(r1));
  const v1 = release(r1);
  f.configure({
    hooks: {
      'before:switch': ['if [ "$SHIP_HOST" = host2 ]; then echo "host2 is not ready" >&2; exit 9; fi'],
      failed: ['local:printf "%s\\n" "$SHIP_ERROR" >> failed.log', 'echo "$SHIP_HOST" > "$SHIP_DEPLOY_TO/failed-hook"'],
    },
  });
  f.build({ VERSION: 'v2\n' });
  const r2 = await f.ship('deploy', 'prod', '--json');
  assert.is(r2.code, 1, explain(r2));
  const v2 = release(r2);
  assert.is(eventsOf(r2, 'switch').length, 0);
  const failedStep = r2.events.find((e) => e.type === 'step' && e.status === 'failed' && !e.host)!;
  assert.is(failedStep.step, 'switch');
  const err = r2.events.find((e) => e.type === 'error')!;
  assert.is(err.host, 'host2');
  assert.match(err.message, /host2: hook before:switch .* failed \(exit 9\)/);
  assert.match(err.message, /host2 is not ready/);
  const failedLog = lines(path.join(f.dir, 'failed.log'));
  assert.ok(failedLog.length >= 1 && failedLog[0].startsWith('host2: hook before:switch'), failedLog.join('\n'));
  for (const h of f.hosts) {
    assert.is(f.current(h), v1, h.name);
    assert.is(f.read(h, 'failed-hook'), `${h.name}\n`);
    assert.ok(f.history(h).some((x) => x.action === 'failure' && x.states?.[v2] === 'failed'));
  }
});

test('a lock refusal (exit 3) runs no failed hook', async (ctx) => {
  const f = (ctx.f = await startFleet('hooklock', { apps: false }));
  f.configure({ hooks: { failed: ['local:echo ran >> failed.log'] } });
  const meta = path.join(f.hosts[0].deployTo, '.ship');
  mkdirSync(meta, { recursive: true });
  writeFileSync(path.join(meta, 'lock'), JSON.stringify({ user: 'ops', host: 'box', pid: 42, command: 'deploy prod', startedAt: '2026-01-01T00:00:00Z' }));
  const r = await f.ship('deploy', 'prod', '--json');
  assert.is(r.code, 3, explain(r));
  assert.not.ok(existsSync(path.join(f.dir, 'failed.log')));
});

test('an unreachable host (exit 4) runs the failed hook once, with SHIP_ERROR naming it', async (ctx) => {
  const f = (ctx.f = await startFleet('hookgone', { apps: false }));
  const port = await freePort();
  const hosts = f.hosts.map((h) => ({ name: h.name, host: h.ssh.host, port: h.ssh.port, user: h.ssh.user, deployTo: h.deployTo }));
  f.configure({
    hosts: [...hosts, { name: 'gone', host: '127.0.0.1', port, user: f.ssh.user, deployTo: `${f.hosts[0].deployTo}-gone` }],
    hooks: {
      failed: [
        'local:printf "%s|%s\\n" "$SHIP_STAGE" "$SHIP_ERROR" >> failed.log',
        // Host commands run on each host that is still connected.
        `echo "$SHIP_HOST" > "${f.dir}-failed-$SHIP_HOST"`,
      ],
    },
  });
  chmodSync(path.dirname(f.dir), 0o1777);
  const r = await f.ship('deploy', 'prod', '--json');
  assert.is(r.code, 4, explain(r));
  const got = lines(path.join(f.dir, 'failed.log'));
  assert.is(got.length, 1, got.join('\n'));
  assert.match(got[0], /^prod\|gone: /);
  for (const h of f.hosts) {
    assert.equal(lines(`${f.dir}-failed-${h.name}`), [h.name]);
    rmSync(`${f.dir}-failed-${h.name}`);
  }
  assert.not.ok(existsSync(`${f.dir}-failed-gone`));
  for (const h of f.hosts) assert.is(f.current(h), undefined);
});

test('host commands in hooks that run before the hosts are connected are refused (exit 2)', async (ctx) => {
  const f = (ctx.f = await startFleet('hookearly', { apps: false }));
  f.configure({ hooks: { 'before:build': ['touch "$SHIP_DEPLOY_TO/x"'] } });
  const r = await f.ship('deploy', 'prod', '--json');
  assert.is(r.code, 2, explain(r));
  assert.match(r.events.find((e) => e.type === 'error')!.message, /before:build.*not connected/);
  for (const h of f.hosts) assert.not.ok(existsSync(h.deployTo));
});

test.run();

/** ship history over real sshd hosts: deploys, a rollback and a failure, merged across hosts. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('history');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

test('history merges the runs of every host, newest first, with user, releases, duration and outcome', async () => {
  const p = project(ssh, 'hist', { hooks: { 'before:switch': ['test ! -e "$SHIP_DEPLOY_TO/fail-here"'] } });
  dirs.push(p.dir);
  const root = (i: number) => path.join(ssh.hosts[i].deployRoot, 'hist');
  const deploy = async (v: string, extra: string[] = [], code = 0) => {
    if (v !== 'v1') writeBuild(p.build, v);
    const r = await ship(['deploy', 'test', ...extra], { cwd: p.dir });
    assert.is(r.code, code, r.stderr);
    return layout(root(0)).current?.replace('releases/', '');
  };
  // v1 ships an (executable) expand migration: it runs on host1, and its event names it.
  writeBuild(p.build, 'v1', 5, { 'migrations/0001_init.sh': '#!/bin/sh\ntrue\n' });
  chmodSync(path.join(p.build, 'migrations/0001_init.sh'), 0o755);
  const v1 = await deploy('v1');
  const v2 = await deploy('v2');
  const rb = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(rb.code, 0, rb.stderr);
  writeOwned(ssh, root(1), { 'fail-here': '' });
  await deploy('v3', [], 1);
  const v3 = layout(root(0)).releases.find((r) => r > v2!)!;
  rmrf(path.join(root(1), 'fail-here'));
  const v4 = await deploy('v4', ['--hosts', 'host1']);

  const r = await ship(['history', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const ev = r.events.filter((e) => e.action);
  const all = ['host1', 'host2', 'host3'];
  const user = os.userInfo().username;
  assert.equal(
    ev.map((e) => [e.action, e.release, e.previous, e.outcome, e.hosts]),
    [
      ['deploy', v4, v1, 'ok', ['host1']],
      ['deploy', v3, v1, 'failed', all],
      ['rollback', v1, v2, 'ok', all],
      ['deploy', v2, v1, 'ok', all],
      ['deploy', v1, undefined, 'ok', all],
    ],
  );
  for (const e of ev) {
    assert.is(e.user, user);
    assert.ok(Number.isInteger(e.durationMs) && e.durationMs > 0, JSON.stringify(e));
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  assert.equal(ev[4].migrations, ['expand 0001_init.sh']);
  assert.equal(ev.slice(0, 4).map((e) => e.migrations), [undefined, undefined, undefined, undefined]);
  assert.is(ev[1].exitCode, 1);
  assert.match(ev[1].message, /host2: hook before:switch/);
  assert.ok(ev.every((e, i) => i === 0 || ev[i - 1].time >= e.time), 'newest first');
  assert.is(r.events.at(-1)!.type, 'summary');

  const lim = await ship(['history', 'test', '--json', '--limit', '2'], { cwd: p.dir });
  assert.equal(lim.events.filter((e) => e.action).map((e) => e.release), [v4, v3]);

  // A deploy over hosts that were on different releases: previous is named per host.
  const v5 = await deploy('v5');
  const t = await ship(['history', 'test', '--limit', '3'], { cwd: p.dir });
  assert.is(t.code, 0, t.stderr);
  const lines = t.stdout.trim().split('\n');
  assert.match(lines[0], /^TIME\s+USER\s+ACTION\s+RELEASE\s+PREVIOUS\s+REVISION\s+DURATION\s+OUTCOME\s+HOSTS$/);
  assert.match(lines[1], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(\\d+s ago\\)\\s+${user}\\s+deploy\\s+${v5}\\s+${v4} \\(host1\\); ${v1} \\(host2, host3\\)\\s+-\\s+[\\d.]+m?s\\s+ok\\s+all \\(3\\)$`));
  assert.match(lines[2], new RegExp(`deploy\\s+${v4}\\s+${v1}\\s+.*ok\\s+host1$`));
  assert.match(lines[3], new RegExp(`deploy\\s+${v3}\\s+${v1}\\s+.*failed \\(exit 1\\)\\s+all \\(3\\)$`));
  assert.match(lines[4], /^\s+host2: hook before:switch/);
});

test.run();

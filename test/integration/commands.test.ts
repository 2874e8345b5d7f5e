/** ship exec and ship check over real sshd hosts. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { freePort } from '../harness/sshd.js';
import { rmrf, ship, writeConfig } from '../harness/ship.js';
import { project, sharedSshHosts, sshBlock, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('exec and check');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

test('exec runs the joined words with sh in current on every host, with SHIP_* and env', async () => {
  const p = project(ssh, 'exec', { env: { GREETING: "it's $(not run)" } });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const r = await ship(['exec', 'test', '--', 'cat', 'VERSION;', 'echo;', 'echo', '"$SHIP_HOST:$GREETING"', '&&', 'pwd'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const h of ssh.hosts) {
    assert.match(r.stdout, `[${h.name}] v1`);
    assert.match(r.stdout, `[${h.name}] ${h.name}:it's $(not run)`);
    assert.match(r.stdout, `[${h.name}] ${path.join(h.deployRoot, 'exec/current')}`);
  }
  const j = await ship(['exec', 'test', '--json', '--', 'test "$SHIP_HOST" != host2'], { cwd: p.dir });
  assert.is(j.code, 1);
  const rows = j.events.filter((e) => e.host && e.code !== undefined && e.type === 'output');
  assert.equal(rows.map((e) => [e.host, e.code]), [['host1', 0], ['host2', 1], ['host3', 0]]);
  assert.is(j.events.at(-1)!.type, 'summary');
});

test('check: every check passes on a ready stage; a missing shared file and a held lock are reported', async () => {
  const p = project(ssh, 'check', { shared: { files: ['.env'] } });
  dirs.push(p.dir);
  for (const h of ssh.hosts) writeOwned(ssh, path.join(h.deployRoot, 'check'), { 'shared/.env': 'A=1' });
  writeBuild(p.build, 'v1', 2, { 'big.bin': Buffer.alloc(3 * 1024 * 1024) });
  let r = await ship(['check', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const rows = r.events.filter((e) => e.check);
  assert.ok(rows.length >= 3 * 7);
  assert.ok(rows.every((e) => e.ok), JSON.stringify(rows.filter((e) => !e.ok)));
  assert.ok(rows.some((e) => e.check === 'atomic rename' && e.detail === 'posix-rename'));
  // The disk check is sized by the build as it stands (3 MiB here).
  assert.ok(rows.filter((e) => e.check === 'disk').every((e) => /a release needs about 3\.\d MiB/.test(e.detail)), JSON.stringify(rows.filter((e) => e.check === 'disk')));
  rmrf(path.join(ssh.hosts[1].deployRoot, 'check/shared/.env'));
  writeOwned(ssh, path.join(ssh.hosts[2].deployRoot, 'check'), { '.ship/lock': JSON.stringify({ user: 'eve', host: 'h', pid: 9, command: 'deploy test', startedAt: 'then' }) });
  r = await ship(['check', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAIL host2\s+shared \.env\s+missing/);
  assert.match(r.stdout, /FAIL host3\s+lock\s+held by eve@h pid 9/);
});

test('check: an unreachable host is exit 4, named', async () => {
  const dir = (await import('../harness/ship.js')).tmpDir();
  dirs.push(dir);
  const port = await freePort();
  writeConfig(dir, { app: 'x', ssh: sshBlock(ssh), stages: { test: { hosts: [{ name: 'ghost', host: '127.0.0.1', port, user: 'shiptest', deployTo: '/tmp/x' }] } } });
  const r = await ship(['check', 'test'], { cwd: dir });
  assert.is(r.code, 4);
  assert.match(r.stderr, 'ghost');
});

test.run();

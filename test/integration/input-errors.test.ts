/**
 * Bad input is the user's to fix, said plainly: a host object's env key that is no
 * variable name (exit 2 before any host is contacted), a build file or a local deployTo
 * ship may not read or write (exit 1 naming the path, never "a bug in ship"). The
 * permission cases run ship as the harness's unprivileged user: root is never refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { chownTree, project, sharedSshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('input errors');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

test('a host object with an invalid env key: exit 2 naming the key, before any host is contacted', async () => {
  const p = project(ssh, 'hostenv');
  dirs.push(p.dir);
  const hosts = (p.config.stages.test.hosts as Array<Record<string, unknown>>).map((h, i) => (i === 1 ? { ...h, env: { 'API-TOKEN': 'x' } } : h));
  writeConfig(p.dir, { ...p.config, stages: { test: { ...p.config.stages.test, hosts } } });
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'stages.test.hosts.1.env.API-TOKEN');
  assert.not.match(r.stderr, 'internal error');
  for (const h of ssh.hosts) assert.not.ok(existsSync(path.join(h.deployRoot, 'hostenv')), 'no host was written');
});

/** A local-transport project owned by the unprivileged user, run as that user. */
function localProject(deployTo: string) {
  const dir = tmpDir('ship-perm-');
  dirs.push(dir);
  writeConfig(dir, { app: 'perm', stages: { test: { hosts: [{ host: 'local', deployTo }], build: { dir: 'build' } } } });
  writeBuild(path.join(dir, 'build'), 'v1');
  chownTree(ssh, dir);
  const run = () => ship(['deploy', 'test'], { cwd: dir, uid: ssh.uid, gid: ssh.gid, env: { HOME: dir } });
  return { dir, run };
}

test('an unreadable build file: exit 1 naming the file, not an internal error', async () => {
  const to = tmpDir('ship-perm-to-');
  dirs.push(to);
  chownTree(ssh, to);
  const p = localProject(path.join(to, 'app'));
  const secret = path.join(p.dir, 'build/lib/part0.txt');
  chmodSync(secret, 0o000);
  const r = await p.run();
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `${secret}: permission denied`);
  assert.not.match(r.stderr, 'internal error');
  assert.not.match(r.stderr, 'bug in ship');
});

test('a local deployTo the user may not write: exit 1 naming the path, not an internal error', async () => {
  const parent = tmpDir('ship-perm-root-'); // root's, mode 0700 after mkdtemp: the user cannot enter it
  dirs.push(parent);
  mkdirSync(path.join(parent, 'www'));
  chmodSync(parent, 0o755);
  const deployTo = path.join(parent, 'www', 'app');
  const p = localProject(deployTo);
  const r = await p.run();
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `${deployTo}: permission denied`);
  assert.not.match(r.stderr, 'internal error');
  assert.not.ok(existsSync(deployTo));
});

test('a local deployTo behind a symlink loop (ELOOP): exit 1 naming the path, not an internal error', async () => {
  const parent = tmpDir('ship-loop-');
  dirs.push(parent);
  symlinkSync(path.join(parent, 'loop'), path.join(parent, 'loop'));
  const deployTo = path.join(parent, 'loop', 'app');
  const dir = tmpDir('ship-loop-proj-');
  dirs.push(dir);
  writeConfig(dir, { app: 'loop', stages: { test: { hosts: [{ host: 'local', deployTo }], build: { dir: 'build' } } } });
  writeBuild(path.join(dir, 'build'), 'v1');
  const r = await ship(['deploy', 'test'], { cwd: dir });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${deployTo}(/\\S*)?: too many levels of symbolic links`));
  assert.not.match(r.stderr, 'internal error');
  assert.not.match(r.stderr, 'bug in ship');
});

test.run();

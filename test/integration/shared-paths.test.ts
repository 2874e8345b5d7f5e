/**
 * Shared paths written `./storage`, `a//b`, `c/.` are normalized: the links land in the
 * release at the normalized path and resolve inside deployTo/shared. deployTo of `/`,
 * the home directory itself or the project directory is refused. Real sshd hosts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { project, sharedSshHosts, sshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('shared paths and deployTo');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

test('shared entries like ./storage, a//b and c/. link inside shared/', async () => {
  const sub = `sharedn-${randomBytes(3).toString('hex')}`;
  const p = project(ssh, sub, {
    hosts: sshHosts(ssh, sub, 2),
    shared: { dirs: ['./storage', 'a//b', 'c/.', 'd/e/'], files: ['./config//app.env'] },
  });
  dirs.push(p.dir);
  const roots = ssh.hosts.slice(0, 2).map((h) => path.join(h.deployRoot, sub));
  for (const r of roots) writeOwned(ssh, r, { 'shared/config/app.env': 'A=1\n' });
  writeBuild(p.build, 'v1', 2, { 'storage/x': 'build', 'a/b/y': 'build', 'c/z': 'build' });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const root of roots) {
    const rel = path.join(root, readlinkSync(path.join(root, 'current')));
    const shared = realpathSync(path.join(root, 'shared'));
    for (const n of ['storage', 'a/b', 'c', 'd/e', 'config/app.env']) {
      const link = path.join(rel, n);
      assert.ok(readlinkSync(link).endsWith(`shared/${n}`), `${n}: ${readlinkSync(link)}`);
      assert.is(realpathSync(link), path.join(shared, n), `${n} resolves inside shared/`);
    }
    assert.not.ok(existsSync(path.join(root, '..', 'shared')), 'nothing was created above deployTo');
  }
});

test('shared entries that leave shared/ and deployTo of /, ~/ or the project dir: exit 2 by key', async () => {
  const sub = `sharedbad-${randomBytes(3).toString('hex')}`;
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ shared: { dirs: ['.'] } }, /shared\.dirs\.0/],
    [{ shared: { files: ['a/../../etc/passwd'] } }, /shared/],
    [{ deployTo: '/' }, /deployTo: '\/' is the root directory/],
    [{ deployTo: '~/' }, /deployTo: '~\/' is the home directory itself/],
  ];
  for (const [stage, msg] of cases) {
    const hosts = sshHosts(ssh, sub, 1).map(({ deployTo: _, ...h }) => h);
    const p = project(ssh, sub, { hosts, ...stage });
    dirs.push(p.dir);
    writeBuild(p.build, 'v1');
    const r = await ship(['deploy', 'test'], { cwd: p.dir });
    assert.is(r.code, 2, `${JSON.stringify(stage)}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  const p = project(undefined, sub, { hosts: ['local'], deployTo: '.' });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /is the project directory/);
  assert.not.ok(existsSync(path.join(p.dir, 'releases')));
});

test.run();

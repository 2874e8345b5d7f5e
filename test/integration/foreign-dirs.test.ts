/**
 * Rollback, switch, prune and release-id generation agree on what a release is: only
 * what ship published. A user's directories under releases/ (a database dump in
 * `0backup`, a 14-digit `99999999999999`, a `notes.partial`) are never made live, never
 * pruned, and never steer the next id. Real sshd hosts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('directories ship did not make');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const roots = (sub: string) => ssh.hosts.map((h) => path.join(h.deployRoot, sub));

async function deployed(sub: string, stage: Record<string, unknown> = {}) {
  const p = project(ssh, sub, stage);
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  return p;
}

const userDirs = {
  'releases/0backup/dump.sql': 'CREATE TABLE precious();',
  'releases/99999999999999/README': 'not a release',
  'releases/notes.partial/todo.txt': 'mine',
};

test('a 14-digit directory that is no date (99999999999999) does not steer the next release id', async () => {
  const sub = 'oddids';
  for (const r of roots(sub)) writeOwned(ssh, r, { 'releases/99999999999999/README': 'not a release' });
  const p = project(ssh, sub);
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const id = r.events.find((e) => e.type === 'summary')!.release as string;
  assert.match(id, /^20\d{12}$/, `a date-time id (${id})`);
  for (const root of roots(sub)) assert.is(readlinkSync(path.join(root, 'current')), `releases/${id}`);
});

test('rollback --to and switch to a directory ship never published: exit 2, nothing changes on any host', async () => {
  const sub = 'rbunknown';
  const p = await deployed(sub);
  writeBuild(p.build, 'v2');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  for (const r of roots(sub)) writeOwned(ssh, r, userDirs);
  const before = roots(sub).map((r) => layout(r));
  const rb = await ship(['rollback', 'test', '--to', '0backup'], { cwd: p.dir });
  assert.is(rb.code, 2, rb.stderr);
  assert.match(rb.stderr, '0backup is not a release ship published');
  const sw = await ship(['switch', 'test', '0backup'], { cwd: p.dir });
  assert.is(sw.code, 2, sw.stderr);
  assert.equal(roots(sub).map((r) => layout(r)), before, 'nothing changed on any host');
  for (const r of roots(sub)) assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v2');
});

test("prune (after deploys and by hand) never removes a directory ship did not make, nor a user's *.partial", async () => {
  const sub = 'prunekeep';
  const p = await deployed(sub, { keepReleases: 1 });
  for (const r of roots(sub)) writeOwned(ssh, r, userDirs);
  for (const v of ['v2', 'v3']) {
    writeBuild(p.build, v);
    assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  }
  const pr = await ship(['prune', 'test', '--keep', '1'], { cwd: p.dir });
  assert.is(pr.code, 0, pr.stderr);
  for (const r of roots(sub)) {
    assert.is(readFileSync(path.join(r, 'releases/0backup/dump.sql'), 'utf8'), 'CREATE TABLE precious();');
    assert.ok(existsSync(path.join(r, 'releases/99999999999999/README')));
    assert.ok(existsSync(path.join(r, 'releases/notes.partial/todo.txt')));
    assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v3');
  }
});

test.run();

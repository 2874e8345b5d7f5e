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

test('rollback --to and switch refuse an unknown directory (exit 2, nothing changes); prune keeps it; odd names do not break ids', async () => {
  const sub = 'foreign';
  const p = project(ssh, sub, { keepReleases: 1 });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  for (const r of roots(sub)) {
    writeOwned(ssh, r, {
      'releases/0backup/dump.sql': 'CREATE TABLE precious();',
      'releases/99999999999999/README': 'not a release',
      'releases/notes.partial/todo.txt': 'mine',
    });
  }
  writeBuild(p.build, 'v2');
  const d2 = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(d2.code, 0, d2.stderr);
  const id2 = d2.events.find((e) => e.type === 'summary')!.release as string;
  assert.match(id2, /^20\d{12}$/, `a date-time id, not one derived from 99999999999999 (${id2})`);
  const before = roots(sub).map((r) => layout(r));

  const rb = await ship(['rollback', 'test', '--to', '0backup'], { cwd: p.dir });
  assert.is(rb.code, 2, rb.stderr);
  assert.match(rb.stderr, '0backup is not a release ship published');
  const sw = await ship(['switch', 'test', '0backup'], { cwd: p.dir });
  assert.is(sw.code, 2, sw.stderr);
  assert.equal(roots(sub).map((r) => layout(r)), before, 'nothing changed on any host');

  writeBuild(p.build, 'v3');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const pr = await ship(['prune', 'test', '--keep', '1'], { cwd: p.dir });
  assert.is(pr.code, 0, pr.stderr);
  for (const r of roots(sub)) {
    assert.is(readFileSync(path.join(r, 'releases/0backup/dump.sql'), 'utf8'), 'CREATE TABLE precious();');
    assert.ok(existsSync(path.join(r, 'releases/99999999999999/README')));
    assert.ok(existsSync(path.join(r, 'releases/notes.partial/todo.txt')));
    assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'v3');
    assert.match(readlinkSync(path.join(r, 'current')), /^releases\/20\d{12}$/);
  }
});

test.run();

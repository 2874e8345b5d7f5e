/**
 * The hosts of a batch flip together: every host gets ready (checks, temporary
 * symlink) before any rename goes out, so a host that cannot get ready leaves every
 * host on its release, with no switch recorded anywhere and no temporary link left.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('switch batch');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const roots = (sub: string) => ssh.hosts.map((h) => path.join(h.deployRoot, sub));
const tmpLinks = (root: string) => readdirSync(root).filter((d) => d.includes('.tmp-'));

test('every host flips to the release; no temporary link is left', async () => {
  const p = project(ssh, 'batch-ok');
  dirs.push(p.dir);
  for (const v of ['v1', 'v2']) {
    writeBuild(p.build, v);
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr);
    const id = r.events.at(-1)!.release;
    assert.equal(r.events.filter((e) => e.type === 'switch').map((e) => e.host).sort(), ssh.hosts.map((h) => h.name).sort());
    for (const root of roots('batch-ok')) {
      assert.is(layout(root).current, `releases/${id}`);
      assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), v);
      assert.equal(tmpLinks(root), []);
    }
  }
  const rb = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(rb.code, 0, rb.stderr);
  for (const root of roots('batch-ok')) {
    assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v1');
    assert.equal(tmpLinks(root), []);
  }
});

test('a host that cannot get ready flips no host at all', async () => {
  // The release vanishes from host2 between publish and switch.
  const last = ssh.hosts[1].name;
  const p = project(ssh, 'batch-fail', {
    hooks: { 'before:switch': [`if [ "$SHIP_HOST" = ${last} ]; then mv "$SHIP_RELEASE_PATH" "$SHIP_RELEASE_PATH.gone"; fi`] },
  });
  dirs.push(p.dir);
  const good = project(ssh, 'batch-fail');
  dirs.push(good.dir);
  writeBuild(good.build, 'v1');
  const first = await ship(['deploy', 'test', '--json'], { cwd: good.dir });
  assert.is(first.code, 0, first.stderr);
  const id1 = first.events.at(-1)!.release;
  writeBuild(p.build, 'v2');
  const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 1, r.stdout);
  const id2 = r.events.at(-1)!.release;
  const err = r.events.find((e) => e.type === 'error')!;
  assert.match(err.message, `${last}: release ${id2} is not there`);
  assert.equal(r.events.filter((e) => e.type === 'switch'), []);
  for (const root of roots('batch-fail')) {
    const l = layout(root);
    assert.is(l.current, `releases/${id1}`);
    assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v1');
    assert.not.ok(l.history.some((e: any) => (e.action === 'switch' || e.action === 'rollback') && e.release === id2), `${root}: no switch to ${id2}`);
    assert.equal(tmpLinks(root), []);
    assert.not.ok(l.locked);
  }
});

test.run();

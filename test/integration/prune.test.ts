/**
 * Pruning never holds the run for a big `rm -rf`: a pruned release leaves releases/
 * before the run ends (renamed into .ship/trash), its files are removed by a detached
 * process on the host, a leftover in the trash is removed by the next run that prunes,
 * and nothing in the trash is ever listed or counted as a release.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('prune without waiting');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

function proj(sub: string, keepReleases: number) {
  const p = project(ssh, sub, {}, { keepReleases });
  dirs.push(p.dir);
  return p;
}

const trashOf = (root: string) => path.join(root, '.ship/trash');
const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** Waits (up to a minute) for the detached removal on the host to empty the trash. */
async function trashEmptied(root: string): Promise<string[]> {
  const t0 = Date.now();
  while (entries(trashOf(root)).length && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
  return entries(trashOf(root));
}

async function deploy(dir: string): Promise<Record<string, any>> {
  const r = await ship(['deploy', 'test', '--json'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  return r.events.at(-1)!;
}

test('a pruned release is gone from releases/ when the deploy ends; its files go in the background', async () => {
  const p = proj('prune-bg', 1);
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    writeBuild(p.build, `v${i}`, 300);
    ids.push((await deploy(p.dir)).release);
  }
  // keepReleases 1 keeps the current release and the rollback target: the first one goes.
  writeBuild(p.build, 'v4', 300);
  const s = await deploy(p.dir);
  ids.push(s.release);
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'prune-bg');
    const l = layout(root);
    assert.equal(l.releases, ids.slice(2), `${h.name}: releases/ right after the run`);
    assert.equal(s.pruned[h.name], [ids[1]], `${h.name}: reported as pruned`);
    assert.not.ok(existsSync(path.join(root, `.ship/manifests/${ids[1]}.json`)), 'its manifest is gone');
    assert.ok(l.history.some((e: any) => e.action === 'prune' && e.removed?.includes(ids[1])), 'recorded in history');
    assert.equal(await trashEmptied(root), [], `${h.name}: the trash is emptied`);
    assert.not.ok(l.locked);
  }
});

test('leftover trash is never listed and is removed by the next run that prunes', async () => {
  const p = proj('prune-leftover', 1);
  const ids: string[] = [];
  for (let i = 1; i <= 2; i++) {
    writeBuild(p.build, `v${i}`, 3);
    ids.push((await deploy(p.dir)).release);
  }
  // What a removal cut short (a reboot) leaves: a release-like tree in the trash.
  const leftover = '20200101000000-0badc0de';
  for (const h of ssh.hosts) {
    writeOwned(ssh, path.join(h.deployRoot, 'prune-leftover'), { [`.ship/trash/${leftover}/lib/a/b.txt`]: 'x', [`.ship/trash/${leftover}/VERSION`]: 'old' });
  }
  const rel = await ship(['releases', 'test', '--json'], { cwd: p.dir });
  assert.is(rel.code, 0, rel.stderr);
  const listed = rel.events.filter((e) => e.type !== 'summary');
  assert.equal([...new Set(listed.map((e) => e.id))].sort(), ids, 'only the releases are listed');
  // A deploy that prunes nothing leaves the trash alone; the next one that prunes empties it.
  writeBuild(p.build, 'v3', 3);
  const s = await deploy(p.dir);
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'prune-leftover');
    assert.equal(s.pruned[h.name], [ids[0]]);
    assert.equal(layout(root).releases, [ids[1], s.release]);
    assert.equal(await trashEmptied(root), [], `${h.name}: leftover removed`);
  }
});

test('ship prune --keep renames aside the same way and reports what it removed', async () => {
  const p = proj('prune-cmd', 5);
  const ids: string[] = [];
  for (let i = 1; i <= 4; i++) {
    writeBuild(p.build, `v${i}`, 20);
    ids.push((await deploy(p.dir)).release);
  }
  const r = await ship(['prune', 'test', '--keep', '1', '--json'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const s = r.events.at(-1)!;
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'prune-cmd');
    assert.equal(s.pruned[h.name], ids.slice(0, 2));
    assert.equal(layout(root).releases, ids.slice(2));
    assert.equal(await trashEmptied(root), []);
  }
  const again = await ship(['prune', 'test', '--keep', '1', '--json'], { cwd: p.dir });
  assert.is(again.code, 0, again.stderr);
  assert.equal(again.events.at(-1)!.pruned[ssh.hosts[0].name], []);
});

test.run();

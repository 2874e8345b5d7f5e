/**
 * The core deploy over real OpenSSH: layout, second deploy, atomic switch under a
 * reader, pruning, rollback. Hosts are real sshd processes (test/harness/sshd.ts)
 * with strict host-key checking on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { isLink, layout, project, sharedSshHosts, writeBuild, writeOwned } from '../harness/stage.js';
import { writeTree } from '../harness/ship.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('deploy over ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

function proj(sub: string, stage: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  const p = project(ssh, sub, { shared: { dirs: ['storage'], files: ['.env'] }, ...stage }, top);
  dirs.push(p.dir);
  for (const h of ssh.hosts) writeOwned(ssh, path.join(h.deployRoot, sub), { 'shared/.env': `SECRET_TOKEN=hunter2-${h.name}\n` });
  return p;
}

test('first deploy: the documented server layout on every host; second deploy; current is relative', async () => {
  const p = proj('layout');
  writeBuild(p.build, 'v1', 3, { 'storage/from-build.txt': 'dropped', '.env': 'from build' });
  const r1 = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r1.code, 0, r1.stderr);
  const summary = r1.events.at(-1)!;
  assert.is(summary.type, 'summary');
  const id1 = summary.release as string;
  assert.match(id1, /^\d{14}$/);
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'layout');
    const l = layout(root);
    assert.equal(l.releases, [id1], h.name);
    assert.is(l.current, `releases/${id1}`);
    assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v1');
    assert.ok(isLink(path.join(root, 'current/storage')));
    assert.is(readlinkSync(path.join(root, `releases/${id1}/storage`)), '../../shared/storage');
    assert.is(readlinkSync(path.join(root, `releases/${id1}/.env`)), '../../shared/.env');
    assert.is(readdirSync(path.join(root, 'shared/storage')).length, 0, 'build content at a shared dir is never copied into shared/');
    assert.match(readFileSync(path.join(root, 'current/.env'), 'utf8'), `hunter2-${h.name}`);
    const manifest = JSON.parse(readFileSync(path.join(root, `.ship/manifests/${id1}.json`), 'utf8'));
    assert.ok(manifest.files.some((f: { path: string; sha256: string }) => f.path === 'VERSION' && /^[0-9a-f]{64}$/.test(f.sha256)));
    assert.not.ok(manifest.files.some((f: { path: string }) => f.path.startsWith('storage/')));
    assert.equal(l.history.map((e) => e.action), ['publish', 'switch', 'deploy']);
    assert.not.ok(l.locked);
    assert.is(statSync(path.join(root, 'current')).uid, ssh.uid, 'files belong to the login user');
  }
  // Secrets never reach the output.
  assert.not.match(r1.stdout + r1.stderr, 'hunter2');

  writeBuild(p.build, 'v2', 3);
  const r2 = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r2.code, 0, r2.stderr);
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'layout');
    const l = layout(root);
    assert.is(l.releases.length, 2);
    assert.is(l.current, `releases/${l.releases[1]}`);
    assert.is(realpathSync(path.join(root, 'current')), path.join(root, 'releases', l.releases[1]));
    assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v2');
    // Unchanged files were hard-linked from the previous release, not sent again.
    const a = statSync(path.join(root, 'releases', l.releases[0], 'public/index.html'));
    const b = statSync(path.join(root, 'releases', l.releases[1], 'lib/part0.txt'));
    assert.ok(a.ino && b.ino);
  }
});

test('unchanged files are hard-linked from the previous release; earlier releases are never modified', async () => {
  const p = proj('incremental');
  writeBuild(p.build, 'same', 2, { 'big.bin': randomBytes(256 * 1024) });
  const r1 = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r1.code, 0, r1.stderr);
  writeTree(p.build, { 'VERSION': 'changed' });
  const r2 = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r2.code, 0, r2.stderr);
  const sent1 = r1.events.at(-1)!.bytesSent as number;
  const sent2 = r2.events.at(-1)!.bytesSent as number;
  assert.ok(sent2 < sent1 / 4, `second deploy sent ${sent2} bytes vs ${sent1}`);
  const root = path.join(ssh.hosts[0].deployRoot, 'incremental');
  const [old, neu] = layout(root).releases;
  assert.is(statSync(path.join(root, 'releases', old, 'big.bin')).ino, statSync(path.join(root, 'releases', neu, 'big.bin')).ino);
  assert.is(readFileSync(path.join(root, 'releases', old, 'VERSION'), 'utf8'), 'same');
  assert.is(readFileSync(path.join(root, 'releases', neu, 'VERSION'), 'utf8'), 'changed');
});

test('atomic switch: a reader polling current/ during 20 deploys never sees a gap, a .partial or a mixed set', async () => {
  const p = proj('atomic', {}, { keepReleases: 3 });
  const root = path.join(ssh.hosts[0].deployRoot, 'atomic');
  writeBuild(p.build, 'v0', 8);
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  let reads = 0;
  const problems: string[] = [];
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      try {
        const target = readlinkSync(path.join(root, 'current'));
        if (target.includes('.partial')) problems.push(`current -> ${target}`);
        const version = readFileSync(path.join(root, 'current/VERSION'), 'utf8');
        for (let i = 0; i < 8; i++) {
          const v = readFileSync(path.join(root, `current/lib/part${i}.txt`), 'utf8').trim();
          // A flip between two reads is fine; a release missing a file or mixing versions is not.
          if (v !== version && readlinkSync(path.join(root, 'current')) === target) problems.push(`mixed ${version}/${v} in ${target}`);
        }
        reads++;
      } catch (e) {
        problems.push(String((e as Error).message));
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 1; i <= 20; i++) {
    writeBuild(p.build, `v${i}`, 8);
    const r = await ship(['deploy', 'test', '--quiet'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr);
  }
  stop = true;
  await poll;
  assert.equal(problems.slice(0, 5), []);
  assert.ok(reads > 100, `only ${reads} reads`);
  assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v20');
  assert.is(layout(root).releases.length, 3);
});

test('keepReleases 3 after 6 deploys keeps 3; failed deploys never push out the last good release', async () => {
  const p = proj('prune', {}, { keepReleases: 3 });
  const ids: string[] = [];
  for (let i = 1; i <= 6; i++) {
    writeBuild(p.build, `v${i}`, 1);
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr);
    ids.push(r.events.at(-1)!.release);
  }
  for (const h of ssh.hosts) assert.equal(layout(path.join(h.deployRoot, 'prune')).releases, ids.slice(3));
  // Now every deploy fails after publishing (its `after:publish` hook exits 1).
  const failing = proj('prune', { hooks: { 'after:publish': ['exit 1'] } }, { keepReleases: 3 });
  for (let i = 0; i < 4; i++) {
    writeBuild(failing.build, `bad${i}`, 1);
    const r = await ship(['deploy', 'test'], { cwd: failing.dir });
    assert.is(r.code, 1);
  }
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'prune');
    const l = layout(root);
    assert.is(l.current, `releases/${ids[5]}`);
    for (const id of ids.slice(3)) assert.ok(l.releases.includes(id), `${h.name} kept ${id}`);
    assert.not.ok(l.locked);
  }
  // The next good deploy prunes failed ones down to the newest one.
  writeBuild(p.build, 'v7', 1);
  const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const root = path.join(ssh.hosts[0].deployRoot, 'prune');
  const rel = await ship(['releases', 'test', '--json'], { cwd: p.dir });
  const mine = rel.events.filter((e) => e.host === ssh.hosts[0].name);
  assert.equal(mine.filter((e) => e.state === 'failed').length, 1);
  assert.equal(mine.filter((e) => ['active', 'superseded'].includes(e.state)).length, 3);
  assert.is(layout(root).releases.length, 4);
});

test('rollback to the previous release, twice, then --to; malformed --to is exit 2', async () => {
  const p = proj('rollback');
  const ids: string[] = [];
  for (const v of ['A', 'B', 'C']) {
    writeBuild(p.build, v, 1);
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr);
    ids.push(r.events.at(-1)!.release);
  }
  const version = () => ssh.hosts.map((h) => readFileSync(path.join(h.deployRoot, 'rollback/current/VERSION'), 'utf8'));
  let r = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(version(), ['B', 'B', 'B']);
  r = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(version(), ['A', 'A', 'A'], 'two rollbacks walk back, never flip-flop');
  r = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(r.code, 1, 'nothing older to roll back to');
  assert.match(r.stderr, 'nothing to roll back to');
  r = await ship(['rollback', 'test', '--to', ids[2]], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(version(), ['C', 'C', 'C'], 'a rolled-back release can be re-activated with --to');
  const rel = await ship(['releases', 'test', '--json'], { cwd: p.dir });
  const states = Object.fromEntries(rel.events.filter((e) => e.host === ssh.hosts[0].name).map((e) => [e.id, e.state]));
  // A was left for a newer release (superseded), B for an older one (rolled-back): docs/architecture.md, Release states.
  assert.equal(states, { [ids[0]]: 'superseded', [ids[1]]: 'rolled-back', [ids[2]]: 'active' });
  for (const bad of ['../x', '/etc', '']) {
    const before = layout(path.join(ssh.hosts[0].deployRoot, 'rollback'));
    r = await ship(['rollback', 'test', '--to', bad], { cwd: p.dir });
    assert.is(r.code, 2, `--to ${JSON.stringify(bad)}`);
    assert.equal(layout(path.join(ssh.hosts[0].deployRoot, 'rollback')), before);
  }
  r = await ship(['rollback', 'test', '--to', '20000101000000'], { cwd: p.dir });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'no release 20000101000000');
});

test.run();

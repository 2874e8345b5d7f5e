/**
 * Asset carry-over over real sshd hosts (`assets`; docs/architecture.md): a new release gets the
 * asset files of the previous `keep` good releases that it lacks, as hard links, its own
 * files winning, recorded in its manifest; a rollback adds the asset files of the release
 * being left that the target lacks (new paths only) and records them in the target's
 * manifest. Nothing else in a published release ever changes.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmrf, ship, writeTree } from '../harness/ship.js';
import { layout, project, sharedSshHosts } from '../harness/stage.js';
import type { SshHosts } from '../harness/sshd.js';

const test = suite('asset carry-over');
let ssh: SshHosts;
const dirs: string[] = [];
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

function build(dir: string, version: string, assets: Record<string, string>) {
  rmrf(dir);
  writeTree(dir, {
    'public/index.html': `<script src="/assets/app.${version}.js"></script>`,
    'public/assets/uploads/from-build.txt': 'replaced by the shared dir',
    ...Object.fromEntries(Object.entries(assets).map(([k, v]) => [`public/assets/${k}`, v])),
  });
}

interface Manifest {
  files: Array<{ path: string; sha256: string }>;
  carried?: Array<{ path: string; from: string; by: string }>;
}

/** Every file under a release dir (not following symlinks) with its inode, content and mtime. */
function snapshot(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) Object.assign(out, snapshot(dir, r));
    else if (e.isFile()) {
      const s = statSync(path.join(dir, r));
      out[r] = `${s.ino}:${s.mtimeMs}:${readFileSync(path.join(dir, r), 'utf8')}`;
    } else out[r] = 'symlink';
  }
  return out;
}

test('deploys carry the last `keep` good releases\' assets; a rollback carries the left release\'s new files back', async () => {
  const sub = `assets-${randomBytes(3).toString('hex')}`;
  const p = project(ssh, sub, { shared: { dirs: ['public/assets/uploads'] }, assets: { dirs: ['public/assets'], keep: 2 } });
  dirs.push(p.dir);
  const roots = ssh.hosts.map((h) => path.join(h.deployRoot, sub));
  const deploy = async (version: string, assets: Record<string, string>) => {
    build(p.build, version, assets);
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr + r.stdout);
    return r.events.at(-1)!.release as string;
  };
  const file = (root: string, id: string, rel: string) => path.join(root, 'releases', id, 'public/assets', rel);
  const manifest = (root: string, id: string) => JSON.parse(readFileSync(path.join(root, '.ship/manifests', `${id}.json`), 'utf8')) as Manifest;

  const A = await deploy('a', { 'app.a.js': 'A', 'same.js': 'same of A' });
  const snapA = roots.map((root) => snapshot(path.join(root, 'releases', A)));
  const B = await deploy('b', { 'app.b.js': 'B', 'same.js': 'same of B' });
  for (const root of roots) {
    // A's file is in B, as a hard link to A's; B's own same.js won.
    assert.is(readFileSync(file(root, B, 'app.a.js'), 'utf8'), 'A');
    assert.is(statSync(file(root, B, 'app.a.js')).ino, statSync(file(root, A, 'app.a.js')).ino, 'hard link, not a copy');
    assert.is(readFileSync(file(root, B, 'same.js'), 'utf8'), 'same of B');
    const m = manifest(root, B);
    assert.ok(m.files.some((f) => f.path === 'public/assets/app.a.js'), 'listed in the manifest');
    assert.equal(m.carried, [{ path: 'public/assets/app.a.js', from: A, by: 'deploy' }]);
    // Nothing was carried under the shared dir: it is still the symlink into shared/, and shared/ got nothing.
    assert.equal(readdirSync(path.join(root, 'shared/public/assets/uploads')), []);
  }
  const C = await deploy('c', { 'app.c.js': 'C', 'same.js': 'same of C' });
  const D = await deploy('d', { 'app.d.js': 'D', 'same.js': 'same of D' });
  for (const root of roots) {
    assert.ok(existsSync(file(root, C, 'app.a.js')) && existsSync(file(root, C, 'app.b.js')), 'C has A and B (keep 2)');
    assert.ok(existsSync(file(root, D, 'app.c.js')) && existsSync(file(root, D, 'app.b.js')), 'D has C and B');
    assert.not.ok(existsSync(file(root, D, 'app.a.js')), 'A is older than the last 2 good releases: aged out (B carried it, and carried files are not carried again)');
  }
  // Earlier releases are never written by a deploy.
  assert.equal(roots.map((root) => snapshot(path.join(root, 'releases', A))), snapA);
  const snapC = roots.map((root) => snapshot(path.join(root, 'releases', C)));

  // Rollback D -> C: C gets D's new file (before the flip), never D's same.js.
  const rb = await ship(['rollback', 'test', '--json'], { cwd: p.dir });
  assert.is(rb.code, 0, rb.stderr + rb.stdout);
  for (const [i, root] of roots.entries()) {
    assert.is(layout(root).current, `releases/${C}`);
    assert.is(readFileSync(file(root, C, 'app.d.js'), 'utf8'), 'D');
    assert.is(statSync(file(root, C, 'app.d.js')).ino, statSync(file(root, D, 'app.d.js')).ino);
    assert.is(readFileSync(file(root, C, 'same.js'), 'utf8'), 'same of C', 'a changed file is never carried back');
    const m = manifest(root, C);
    assert.equal(m.carried!.filter((c) => c.by === 'rollback'), [{ path: 'public/assets/app.d.js', from: D, by: 'rollback' }]);
    assert.ok(m.files.some((f) => f.path === 'public/assets/app.d.js'));
    // Only that one new file: everything C had is untouched.
    const after = snapshot(path.join(root, 'releases', C));
    assert.equal(Object.keys(after).filter((k) => !(k in snapC[i])), ['public/assets/app.d.js']);
    for (const [k, v] of Object.entries(snapC[i])) assert.is(after[k], v, `${k} in ${C} unchanged`);
  }
  // The files were added before the flip: the step that added them ran before the switch step.
  const steps = rb.events.filter((e) => e.type === 'step' && !e.host && e.status === 'start').map((e) => e.step);
  assert.ok(steps.indexOf('rollback') < steps.indexOf('switch'), steps.join(','));
  assert.ok(rb.events.some((e) => e.type === 'step' && e.step === 'assets' && e.status === 'done' && /added 1 asset file/.test(e.message ?? '')));

  // The next deploy carries from the good releases C and B (D is rolled back), including what the rollback added to C.
  const E = await deploy('e', { 'app.e.js': 'E', 'same.js': 'same of E' });
  for (const root of roots) {
    for (const f of ['app.c.js', 'app.b.js', 'app.d.js']) assert.ok(existsSync(file(root, E, f)), `${E} has ${f}`);
    assert.is(readFileSync(file(root, E, 'same.js'), 'utf8'), 'same of E');
  }
});

test('without `assets`, nothing is carried (the old page\'s files are gone after a deploy)', async () => {
  const sub = `noassets-${randomBytes(3).toString('hex')}`;
  const p = project(ssh, sub, {});
  dirs.push(p.dir);
  build(p.build, 'a', { 'app.a.js': 'A' });
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  build(p.build, 'b', { 'app.b.js': 'B' });
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  for (const h of ssh.hosts) assert.not.ok(existsSync(path.join(h.deployRoot, sub, 'current/public/assets/app.a.js')));
});

test.run();

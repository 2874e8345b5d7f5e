import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { carriable, inAssetDirs, planCarryBack, planCarryOver, withCarried, type AssetManifest } from '../../src/assets.js';

const f = (p: string, sha = 'x') => ({ path: p, size: 1, mode: 0o644, sha256: sha });
const m = (release: string, files: string[], extra: Partial<AssetManifest> = {}): AssetManifest => ({ release, files: files.map((p) => f(p, `${release}:${p}`)), links: [], ...extra });
const paths = (plan: { file: { path: string }; from: string }[]) => plan.map((p) => `${p.from}:${p.file.path}`);

test('inAssetDirs: under the dir only, not the dir itself or a sibling with the same prefix', () => {
  assert.ok(inAssetDirs('public/assets/a.js', ['public/assets']));
  assert.ok(inAssetDirs('public/assets/x/a.js', ['public/assets/']));
  assert.not.ok(inAssetDirs('public/assets', ['public/assets']));
  assert.not.ok(inAssetDirs('public/assets2/a.js', ['public/assets']));
  assert.not.ok(inAssetDirs('public/index.html', ['public/assets']));
});

test('carry-over: files the new release lacks, newest source first; its own files win', () => {
  const own = m('C', ['public/index.html', 'public/assets/app.c.js', 'public/assets/shared.js']);
  const b = m('B', ['public/index.html', 'public/assets/app.b.js', 'public/assets/shared.js', 'public/assets/common.js']);
  const a = m('A', ['public/index.html', 'public/assets/app.a.js', 'public/assets/common.js']);
  const plan = planCarryOver(own, ['public', 'public/assets'], [{ id: 'B', manifest: b }, { id: 'A', manifest: a }], ['public/assets'], []);
  assert.equal(paths(plan), ['B:public/assets/app.b.js', 'B:public/assets/common.js', 'A:public/assets/app.a.js']);
  // The sha recorded is the source's.
  assert.is(plan[1].file.sha256, 'B:public/assets/common.js');
});

test('carry-over: what a release carried at its deploy is not carried again (files age out)', () => {
  const b = m('B', ['public/assets/app.b.js', 'public/assets/app.a.js'], { carried: [{ path: 'public/assets/app.a.js', from: 'A', by: 'deploy' }] });
  assert.equal(carriable(b, ['public/assets']).map((x) => x.path), ['public/assets/app.b.js']);
  // ...but files a rollback added to it are (they were served while it was left).
  const b2 = m('B', ['public/assets/app.b.js', 'public/assets/app.c.js'], { carried: [{ path: 'public/assets/app.c.js', from: 'C', by: 'rollback' }] });
  assert.equal(carriable(b2, ['public/assets']).map((x) => x.path), ['public/assets/app.b.js', 'public/assets/app.c.js']);
});

test('carry-over: never at or under a shared path, a build symlink, or where a dir/file conflicts', () => {
  const own: AssetManifest = { release: 'C', files: [f('public/assets/x')], links: [{ path: 'public/assets/linked', target: '../elsewhere' }] };
  const b = m('B', ['public/assets/uploads/u.png', 'public/assets/linked/a.js', 'public/assets/x/inner.js', 'public/assets/dir', 'public/assets/ok.js']);
  const plan = planCarryOver(own, ['public/assets/dir'], [{ id: 'B', manifest: b }], ['public/assets'], ['public/assets/uploads']);
  assert.equal(paths(plan), ['B:public/assets/ok.js']);
});

test('carry-over: two sources conflicting with each other (file vs dir) keep the newer', () => {
  const own = m('C', []);
  const b = m('B', ['public/assets/v']);
  const a = m('A', ['public/assets/v/a.js']);
  assert.equal(paths(planCarryOver(own, [], [{ id: 'B', manifest: b }, { id: 'A', manifest: a }], ['public/assets'], [])), ['B:public/assets/v']);
});

test('carry-back: new paths of the release being left only, never a changed file', () => {
  const target = m('B', ['public/index.html', 'public/assets/app.b.js', 'public/assets/same-name.js']);
  const leaving = m('C', ['public/index.html', 'public/assets/app.c.js', 'public/assets/same-name.js', 'public/assets/app.b2.js'], {
    carried: [{ path: 'public/assets/app.b2.js', from: 'X', by: 'deploy' }],
  });
  const plan = planCarryBack(target, { id: 'C', manifest: leaving }, ['public/assets'], []);
  // same-name.js differs in C (other sha) but B has the path: left alone. Carried files of C come along.
  assert.equal(paths(plan), ['C:public/assets/app.c.js', 'C:public/assets/app.b2.js']);
  const updated = withCarried(target, plan, 'rollback');
  assert.equal(
    updated.files.map((x) => x.path),
    ['public/assets/app.b.js', 'public/assets/app.b2.js', 'public/assets/app.c.js', 'public/assets/same-name.js', 'public/index.html'],
  );
  assert.equal(updated.carried, [
    { path: 'public/assets/app.c.js', from: 'C', by: 'rollback' },
    { path: 'public/assets/app.b2.js', from: 'C', by: 'rollback' },
  ]);
  // The same-name file keeps the target's own sha.
  assert.is(updated.files.find((x) => x.path === 'public/assets/same-name.js')!.sha256, 'B:public/assets/same-name.js');
});

test('withCarried with nothing planned returns the manifest unchanged', () => {
  const t = m('B', ['a']);
  assert.is(withCarried(t, [], 'deploy'), t);
});

test.run();

/**
 * The pieces of the upload on this machine's /bin/sh and GNU tar: the tar stream ship
 * writes, the reuse plan, and the one remote command (run locally) producing the release
 * and a manifest byte-identical to what the deployer predicts.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compressed, FanOut, tarStream } from '../../src/archive.js';
import { manifestText, parseManifest } from '../../src/manifest-text.js';
import { parseRecords, planReuse, reusePrevious, sedRanges } from '../../src/reuse.js';
import { allHashed, applyHashCache, saveHashCache, walkBuild } from '../../src/scan.js';
import { LocalTransport } from '../../src/transport/local.js';

const test = suite('upload pieces');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-upload-unit-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function write(root: string, files: Record<string, string>) {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), c);
  }
}

test('sedRanges joins runs of lines', () => {
  assert.is(sedRanges([2, 3, 4, 7, 9, 10]), '2,4p;7p;9,10p');
  assert.is(sedRanges([]), '');
});

test('manifest text: one entry per line, parsed back with its lines', () => {
  const m = { release: 'R1', links: [], shared: ['storage'], files: [{ path: 'a "quoted"\\name', size: 1, mode: 420, sha256: 'x'.repeat(64) }, { path: 'b', size: 2, mode: 493, sha256: 'y'.repeat(64) }] };
  const text = manifestText(m);
  assert.equal(JSON.parse(text), m);
  const p = parseManifest(text)!;
  assert.ok(p.lines);
  assert.is(p.lines!.length, 2);
  assert.is(parseManifest(JSON.stringify(m))!.lines, null, 'a one-line manifest is read, not line-reused');
});

test('hash cache: a hit needs path, size, mtime, ctime and inode to match', async () => {
  const b = path.join(tmp, 'cache-build');
  write(b, { 'a.txt': 'one', 'b.txt': 'two' });
  const first = await walkBuild(b, { exclude: [], followSymlinks: false });
  await allHashed(first);
  const cache = path.join(tmp, 'cache.json');
  await saveHashCache(first, cache);
  const again = await walkBuild(b, { exclude: [], followSymlinks: false });
  assert.is(await applyHashCache(again, cache), 2);
  assert.equal(again.files, first.files);
  writeFileSync(path.join(b, 'b.txt'), 'TWO'); // same size
  const third = await walkBuild(b, { exclude: [], followSymlinks: false });
  assert.is(await applyHashCache(third, cache), 1);
  await allHashed(third);
  assert.is(third.files[1].sha256, createHash('sha256').update('TWO').digest('hex'));
});

test('reusePrevious builds the release from the previous one and the manifest the deployer predicts', async () => {
  const releases = path.join(tmp, 'releases');
  const manifests = path.join(tmp, 'manifests');
  mkdirSync(manifests, { recursive: true });
  const b1 = path.join(tmp, 'b1');
  write(b1, { 'keep.txt': 'keep', 'change.txt': 'old', 'gone.txt': 'gone', 'olddir/x.txt': 'x' });
  const build1 = await walkBuild(b1, { exclude: [], followSymlinks: false });
  await allHashed(build1);
  // Release 1, as a full upload would make it.
  const t = new LocalTransport();
  const full = reusePrevious({ releases, partial: path.join(releases, 'R1'), untar: [] });
  const r1 = await t.exec(full, { stdin: tarStream({ build: build1, dirs: build1.dirs, files: build1.files, links: build1.links }) });
  assert.is(r1.code, 0, r1.stderr);
  symlinkSync('../../shared/storage', path.join(releases, 'R1', 'storage'));
  writeFileSync(path.join(releases, 'R1', 'REVISION'), 'abc\n');
  const m1 = manifestText({ release: 'R1', links: [], shared: ['storage'], files: build1.files });
  writeFileSync(path.join(manifests, 'R1.json'), m1);
  const inode = statSync(path.join(releases, 'R1', 'change.txt')).ino;

  const b2 = path.join(tmp, 'b2');
  write(b2, { 'keep.txt': 'keep', 'change.txt': 'new', 'newdir/y.txt': 'y' });
  symlinkSync('keep.txt', path.join(b2, 'link'));
  const build2 = await walkBuild(b2, { exclude: [], followSymlinks: false });
  await allHashed(build2);
  const plan = planReuse(build2, parseManifest(m1)!, { release: 'R2', links: build2.links, shared: ['storage'] });
  assert.equal([...plan.reused], ['keep.txt']);
  assert.equal(
    plan.send.files.map((f) => f.path),
    ['change.txt', 'newdir/y.txt'],
  );
  const m = plan.manifest!;
  const cmd = reusePrevious({
    releases,
    partial: path.join(releases, 'R2.partial'),
    untar: ['-z'],
    previous: { dir: path.join(releases, 'R1'), copy: false },
    remove: { paths: plan.remove },
    manifest: { prev: path.join(manifests, 'R1.json'), dest: path.join(manifests, 'R2.json'), header: m.header, ranges: sedRanges(m.keep), add: m.add, expect: createHash('sha256').update(m.text).digest('hex') },
  });
  const fan = new FanOut(compressed(tarStream({ build: build2, ...plan.send }), 'gzip', 1));
  const branch = fan.branch();
  const run = t.exec(cmd, { stdin: branch });
  fan.start();
  const r2 = await run;
  assert.is(r2.code, 0, r2.stderr);
  const out = parseRecords(r2.stdout);
  assert.is(out.get('sha'), createHash('sha256').update(m.text).digest('hex'), 'the host made the predicted manifest');
  assert.is(readFileSync(path.join(manifests, 'R2.json'), 'utf8'), m.text);
  assert.equal(JSON.parse(m.text).files.map((f: { path: string }) => f.path).sort(), ['change.txt', 'keep.txt', 'newdir/y.txt']);
  const p2 = path.join(releases, 'R2.partial');
  assert.is(readFileSync(path.join(p2, 'change.txt'), 'utf8'), 'new');
  assert.is(readFileSync(path.join(releases, 'R1', 'change.txt'), 'utf8'), 'old', 'the previous release is untouched');
  assert.is(statSync(path.join(releases, 'R1', 'change.txt')).ino, inode);
  assert.is(statSync(path.join(p2, 'keep.txt')).ino, statSync(path.join(releases, 'R1', 'keep.txt')).ino);
  for (const gone of ['gone.txt', 'olddir', 'storage', 'REVISION']) assert.throws(() => lstatSync(path.join(p2, gone)), gone);
  assert.is(out.get('types')!.split('f').length - 1, 3);
});

test.run();

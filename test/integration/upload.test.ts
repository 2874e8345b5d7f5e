/**
 * The upload data path over real OpenSSH: incremental releases built from a hard-linked
 * copy of the previous one (deletions, mode and symlink changes, directories), the
 * previous release's bytes and inodes never touched, the local hash cache (hits and the
 * changes it must still catch), a cold deployer, `reuse: copy`, every compression, and a
 * dry run that writes nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship, writeTree } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('upload: streamed, incremental, cached');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

function proj(sub: string, stage: Record<string, unknown> = {}) {
  const p = project(ssh, sub, { shared: { dirs: ['storage'], files: ['.env'] }, ...stage });
  dirs.push(p.dir);
  for (const h of ssh.hosts) writeOwned(ssh, path.join(h.deployRoot, sub), { 'shared/.env': 'A=1\n' });
  return p;
}

interface Entry {
  type: 'file' | 'dir' | 'link';
  mode?: number;
  sha256?: string;
  target?: string;
  ino?: number;
}

/** Every entry under `dir`: type, mode, content hash or link target, inode. */
function snapshot(dir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.set(r, { type: 'link', target: readlinkSync(p) });
      else if (s.isDirectory()) {
        out.set(r, { type: 'dir' });
        walk(r);
      } else out.set(r, { type: 'file', mode: s.mode & 0o777, sha256: createHash('sha256').update(readFileSync(p)).digest('hex'), ino: s.ino });
    }
  };
  walk('');
  return out;
}

/** The release holds exactly the build (plus the shared links and REVISION the link step adds); modes as built, minus group/other write. */
function assertHoldsBuild(release: string, build: string, label: string) {
  const want = snapshot(build);
  const got = snapshot(release);
  for (const extra of ['storage', '.env', 'REVISION']) got.delete(extra);
  for (const k of [...want.keys()]) if (k === 'storage' || k.startsWith('storage/')) want.delete(k);
  assert.equal([...got.keys()].sort(), [...want.keys()].sort(), `${label}: same entries`);
  for (const [p, w] of want) {
    const g = got.get(p)!;
    assert.is(g.type, w.type, `${label}: ${p} type`);
    if (w.type === 'file') {
      assert.is(g.sha256, w.sha256, `${label}: ${p} content`);
      // A published release's files are read-only: the build's mode with the write bits cleared.
      assert.is(g.mode, w.mode! & ~0o222, `${label}: ${p} mode`);
    }
    if (w.type === 'link') assert.is(g.target, w.target, `${label}: ${p} target`);
  }
}

function summary(r: { events: Array<Record<string, unknown>> }) {
  return r.events.at(-1)! as { release: string; bytesSent: number };
}

async function deploy(dir: string, extra: string[] = []) {
  const r = await ship(['deploy', 'test', '--json', ...extra], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  return summary(r);
}

test('incremental: deletions, mode and symlink changes, new and removed dirs; the previous release never altered', async () => {
  const p = proj('incr');
  writeTree(p.build, {
    'a.txt': 'aaaa',
    'b.txt': 'bbbb',
    'dir/c.txt': 'cccc',
    'old/deep/d.txt': 'dddd',
    'bin/run.sh': '#!/bin/sh\necho hi\n',
    'big.bin': randomBytes(2 * 1024 * 1024),
    'storage/in-build.txt': 'never shipped',
  });
  symlinkSync('a.txt', path.join(p.build, 'l'));
  symlinkSync('dir', path.join(p.build, 'dirlink'));
  const s1 = await deploy(p.dir);
  const h = ssh.hosts[0];
  const root = path.join(h.deployRoot, 'incr');
  const rel1 = path.join(root, 'releases', s1.release);
  assertHoldsBuild(rel1, p.build, 'first');
  const before = snapshot(rel1);

  // Change: a.txt (same size), b.txt gone, a mode change, a retargeted link, a removed and a new dir.
  writeFileSync(path.join(p.build, 'a.txt'), 'AAAA');
  unlinkSync(path.join(p.build, 'b.txt'));
  chmodSync(path.join(p.build, 'bin/run.sh'), 0o755);
  unlinkSync(path.join(p.build, 'l'));
  symlinkSync('dir/c.txt', path.join(p.build, 'l'));
  rmSync(path.join(p.build, 'old'), { recursive: true });
  writeTree(p.build, { 'new/e.txt': 'eeee' });
  const s2 = await deploy(p.dir);
  assert.ok(s2.bytesSent < 64 * 1024 * ssh.hosts.length, `a few KB per host, sent ${s2.bytesSent}`);
  for (const host of ssh.hosts) {
    const r = path.join(host.deployRoot, 'incr');
    assertHoldsBuild(path.join(r, 'releases', s2.release), p.build, host.name);
    assert.is(readlinkSync(path.join(r, 'releases', s2.release, 'storage')), '../../shared/storage');
    assert.is(layout(r).current, `releases/${s2.release}`);
  }
  // Unchanged files share the inode with the previous release; changed ones do not.
  const rel2 = path.join(root, 'releases', s2.release);
  assert.is(statSync(path.join(rel2, 'big.bin')).ino, statSync(path.join(rel1, 'big.bin')).ino);
  assert.is.not(statSync(path.join(rel2, 'a.txt')).ino, statSync(path.join(rel1, 'a.txt')).ino);
  assert.is.not(statSync(path.join(rel2, 'bin/run.sh')).ino, statSync(path.join(rel1, 'bin/run.sh')).ino);
  // The previous release: every byte, mode and inode as it was.
  assert.equal(snapshot(rel1), before);
  // The manifest the host made lists exactly the build.
  const m = JSON.parse(readFileSync(path.join(root, '.ship/manifests', `${s2.release}.json`), 'utf8'));
  assert.equal(m.files.map((f: { path: string }) => f.path).sort(), ['a.txt', 'big.bin', 'bin/run.sh', 'dir/c.txt', 'new/e.txt']);
  assert.is(m.files.find((f: { path: string }) => f.path === 'a.txt').sha256, createHash('sha256').update('AAAA').digest('hex'));
  assert.equal(m.links, [
    { path: 'dirlink', target: 'dir' },
    { path: 'l', target: 'dir/c.txt' },
  ]);
});

test('a stray file in the previous release (not in its manifest) does not reach the next one', async () => {
  const p = proj('stray');
  writeTree(p.build, { 'a.txt': 'a', 'b/c.txt': 'c' });
  const s1 = await deploy(p.dir);
  for (const h of ssh.hosts) writeOwned(ssh, path.join(h.deployRoot, 'stray', 'releases', s1.release), { 'stray.log': 'runtime', 'b/cache/x': 'y' });
  writeTree(p.build, { 'a.txt': 'A' });
  const s2 = await deploy(p.dir);
  for (const h of ssh.hosts) assertHoldsBuild(path.join(h.deployRoot, 'stray', 'releases', s2.release), p.build, h.name);
});

test('hash cache: hits on an unchanged build; a rebuild that rewrote every file, and an in-place change with size and mtime restored, are caught', async () => {
  const p = proj('cache');
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`f/${i}.txt`] = `content ${i}\n`.padEnd(64, '.');
  writeTree(p.build, files);
  await deploy(p.dir);
  const cacheDir = path.join(p.dir, '.ship', 'cache');
  assert.ok(readdirSync(cacheDir).some((n) => n.startsWith('hashes-')), 'the hash cache is written');

  // Unchanged: nothing sent but the (empty) archive.
  const s2 = await deploy(p.dir);
  assert.ok(s2.bytesSent < 8 * 1024 * ssh.hosts.length, `sent ${s2.bytesSent}`);

  // In place, same size, mtime put back: only ctime tells.
  const target = path.join(p.build, 'f/7.txt');
  const st = statSync(target);
  writeFileSync(target, 'CHANGED 7\n'.padEnd(64, '.'));
  utimesSync(target, st.atime, st.mtime);
  const s3 = await deploy(p.dir);
  for (const h of ssh.hosts) assertHoldsBuild(path.join(h.deployRoot, 'cache', 'releases', s3.release), p.build, `${h.name} in-place`);

  // A rebuild: every file rewritten (new inodes and times), one with new bytes of the same size.
  const copy = `${p.build}.new`;
  cpSync(p.build, copy, { recursive: true });
  rmSync(p.build, { recursive: true });
  cpSync(copy, p.build, { recursive: true });
  rmSync(copy, { recursive: true });
  writeFileSync(path.join(p.build, 'f/9.txt'), 'CHANGED 9\n'.padEnd(64, '.'));
  const s4 = await deploy(p.dir);
  for (const h of ssh.hosts) assertHoldsBuild(path.join(h.deployRoot, 'cache', 'releases', s4.release), p.build, `${h.name} rebuild`);
  assert.ok(s4.bytesSent < 16 * 1024 * ssh.hosts.length, `only the changed file is sent, sent ${s4.bytesSent}`);
});

test('cold deployer (no local cache): still incremental, only the change is sent', async () => {
  const p = proj('cold');
  writeTree(p.build, { 'big.bin': randomBytes(1024 * 1024), 'a.txt': 'a' });
  await deploy(p.dir);
  rmSync(path.join(p.dir, '.ship'), { recursive: true, force: true });
  writeTree(p.build, { 'a.txt': 'b' });
  const s = await deploy(p.dir);
  assert.ok(s.bytesSent < 64 * 1024 * ssh.hosts.length, `sent ${s.bytesSent}`);
  for (const h of ssh.hosts) assertHoldsBuild(path.join(h.deployRoot, 'cold', 'releases', s.release), p.build, h.name);
});

test('hosts on different previous releases each build on their own; hosts on the same one share one plan, also when the removal list goes by file', async () => {
  const p = proj('mixed');
  // 400 long names: removing them all makes a removal list over the 48 KB that fits in a command.
  const many: Record<string, string> = {};
  for (let i = 0; i < 400; i++) many[`gone/${'n'.repeat(120)}-${i}.txt`] = `${i}`;
  writeTree(p.build, { ...many, 'keep.bin': randomBytes(256 * 1024), 'v.txt': '1', 'back.txt': 'as in 1 and 2' });
  await deploy(p.dir);
  // One host moves on alone: from here its previous release differs from the others'.
  const solo = ssh.hosts.at(-1)!;
  const rest = ssh.hosts.slice(0, -1);
  // back.txt differs only in this host's previous release: a plan made from the others' would keep it.
  writeTree(p.build, { 'v.txt': '1b', 'back.txt': 'only in 1b' });
  const s1b = await deploy(p.dir, ['--hosts', solo.name]);
  const before = new Map(ssh.hosts.map((h) => [h.name, lstatSync(path.join(h.deployRoot, 'mixed/current/keep.bin')).ino]));
  assert.is(readlinkSync(path.join(solo.deployRoot, 'mixed/current')), `releases/${s1b.release}`);

  rmSync(path.join(p.build, 'gone'), { recursive: true });
  writeTree(p.build, { 'v.txt': '2', 'new.txt': 'new', 'back.txt': 'as in 1 and 2' });
  const s2 = await deploy(p.dir);
  assert.ok(s2.bytesSent < 64 * 1024 * ssh.hosts.length, `only what changed is sent, sent ${s2.bytesSent}`);
  for (const h of [solo, ...rest]) {
    const release = path.join(h.deployRoot, 'mixed', 'releases', s2.release);
    assertHoldsBuild(release, p.build, h.name);
    assert.is(readFileSync(path.join(release, 'v.txt'), 'utf8'), '2', `${h.name}: v.txt`);
    assert.is(lstatSync(path.join(release, 'keep.bin')).ino, before.get(h.name), `${h.name}: keep.bin linked from its own previous release`);
  }
});

test('reuse: copy — unchanged files are copies, no inode shared with the previous release', async () => {
  const p = proj('copy', { reuse: 'copy' });
  writeTree(p.build, { 'a.txt': 'a', 'b.txt': 'b' });
  const s1 = await deploy(p.dir);
  writeTree(p.build, { 'b.txt': 'B' });
  const s2 = await deploy(p.dir);
  const root = path.join(ssh.hosts[0].deployRoot, 'copy', 'releases');
  assertHoldsBuild(path.join(root, s2.release), p.build, 'copy');
  assert.is.not(statSync(path.join(root, s2.release, 'a.txt')).ino, statSync(path.join(root, s1.release, 'a.txt')).ino);
  assert.is(readFileSync(path.join(root, s1.release, 'b.txt'), 'utf8'), 'b');
});

for (const compress of ['none', 'gzip', 'zstd', 'auto'] as const) {
  test(`upload.compress: ${compress} — full and incremental releases hold the build`, async () => {
    const p = proj(`z-${compress}`, { upload: { compress } });
    writeTree(p.build, { 'text.js': 'console.log(1);\n'.repeat(5000), 'rand.bin': randomBytes(300 * 1024), [`${'long-name-'.repeat(12)}/x.txt`]: 'long path' });
    const s1 = await deploy(p.dir);
    writeTree(p.build, { 'text.js': 'console.log(2);\n'.repeat(5000) });
    const s2 = await deploy(p.dir);
    for (const h of ssh.hosts) {
      const root = path.join(h.deployRoot, `z-${compress}`, 'releases');
      assertHoldsBuild(path.join(root, s2.release), p.build, `${h.name} ${compress}`);
      assert.ok(existsSync(path.join(root, s1.release, 'rand.bin')));
    }
  });
}

test('--dry-run says what each host would receive and reuse, and writes nothing', async () => {
  const p = proj('dry');
  writeTree(p.build, { 'a.txt': 'a', 'b.txt': 'b' });
  const s1 = await deploy(p.dir);
  writeTree(p.build, { 'b.txt': 'B', 'c.txt': 'c' });
  const roots = ssh.hosts.map((h) => path.join(h.deployRoot, 'dry'));
  const before = roots.map((r) => snapshot(r));
  const r = await ship(['deploy', 'test', '--dry-run'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const h of ssh.hosts) assert.match(r.stdout + r.stderr, new RegExp(`${h.name}.*send 2 files.*reuse 1 from ${s1.release}`));
  assert.equal(
    roots.map((x) => snapshot(x)),
    before,
  );
});

test.run();

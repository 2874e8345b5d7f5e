/**
 * What must never go wrong: locks, a killed deployer, a failing host, host keys,
 * missing shared files, hostile paths, escaping symlinks. Real sshd hosts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { collect, rmrf, ship, spawnShip, tmpDir, writeConfig } from '../harness/ship.js';
import { chownTree, layout, project, sharedSshHosts, sshBlock, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('safety over ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

function proj(sub: string, stage: Record<string, unknown> = {}) {
  const p = project(ssh, sub, stage);
  dirs.push(p.dir);
  return p;
}
const roots = (sub: string) => ssh.hosts.map((h) => path.join(h.deployRoot, sub));
const snapshot = (sub: string) => roots(sub).map((r) => layout(r));

/** Deploys a large build and sends `signal` to ship as soon as host1's upload has begun. */
async function signalMidUpload(dir: string, sub: string, signal: NodeJS.Signals) {
  const child = spawnShip(['deploy', 'test'], { cwd: dir });
  const done = collect(child, false);
  const releasesDir = path.join(roots(sub)[0], 'releases');
  const t0 = Date.now();
  while (!readdirSync(releasesDir).some((d) => d.endsWith('.partial')) && Date.now() - t0 < 600_000) { // a loaded machine can take a minute to build the archive
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill(signal);
  return { run: await done, releasesDir };
}

test('a held lock: exit 3 naming the holder, nothing changed, the lock kept; unlock clears it', async () => {
  const p = proj('locked');
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const holder = { user: 'alice', host: 'laptop', pid: 4242, command: 'deploy test', startedAt: '2026-11-30T01:00:00.000Z' };
  const lockFile = path.join(roots('locked')[1], '.ship/lock');
  writeOwned(ssh, roots('locked')[1], { '.ship/lock': JSON.stringify(holder) });
  const before = snapshot('locked');
  writeBuild(p.build, 'v2');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, 'alice@laptop pid 4242 (deploy test) since 2026-11-30T01:00:00.000Z');
  assert.match(r.stderr, 'host2');
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')), holder, "the other run's lock is untouched");
  const after = snapshot('locked');
  assert.equal(after.map((l) => [l.releases, l.current]), before.map((l) => [l.releases, l.current]));
  assert.equal([after[0].locked, after[2].locked], [false, false], 'locks this run took are released');
  // Just written, so it reads as live: unlock refuses it without --force.
  const refused = await ship(['unlock', 'test'], { cwd: p.dir });
  assert.is(refused.code, 3, refused.stderr);
  assert.ok(existsSync(lockFile));
  const u = await ship(['unlock', 'test', '--force'], { cwd: p.dir });
  assert.is(u.code, 0, u.stderr);
  assert.not.ok(existsSync(lockFile));
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  assert.is(readFileSync(path.join(roots('locked')[1], 'current/VERSION'), 'utf8'), 'v2');
});

test('--lock-wait waits for a lock to go away', async () => {
  const p = proj('lockwait');
  writeBuild(p.build, 'v1');
  writeOwned(ssh, roots('lockwait')[0], { '.ship/lock': JSON.stringify({ user: 'bob', host: 'ci', pid: 1, command: 'deploy test', startedAt: 'x' }) });
  // The holder goes away once ship says it waits (not after a fixed time: a slow start would miss it).
  const child = spawnShip(['deploy', 'test', '--lock-wait', '20'], { cwd: p.dir });
  const done = collect(child, false);
  let said = '';
  let gone = false;
  child.stderr!.on('data', (d) => {
    said += d;
    if (gone || !said.includes('waiting up to')) return;
    gone = true; // once: the lock there later is ship's own
    rmrf(path.join(roots('lockwait')[0], '.ship/lock'));
  });
  const r = await done;
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'waiting up to 20s for bob@ci');
});

test('two deploys started at the same instant: exactly one proceeds', async () => {
  // The winner holds its locks a while (a local hook after locking), so the runs overlap.
  const p = proj('race', { hooks: { 'after:lock': ['local:sleep 2'] } });
  writeBuild(p.build, 'v1');
  const a = spawnShip(['deploy', 'test'], { cwd: p.dir });
  const b = spawnShip(['deploy', 'test'], { cwd: p.dir });
  const [ra, rb] = await Promise.all([collect(a, false), collect(b, false)]);
  assert.equal([ra.code, rb.code].sort(), [0, 3], `${ra.stderr}\n---\n${rb.stderr}`);
  const loser = ra.code === 3 ? ra : rb;
  assert.match(loser.stderr, 'locked by');
  for (const l of snapshot('race')) {
    assert.is(l.releases.length, 1);
    assert.not.ok(l.locked);
  }
});

test('deployer killed (SIGKILL) mid-upload: current unchanged; stale lock reported; unlock, then a deploy cleans the .partial', async () => {
  const p = proj('killed');
  writeBuild(p.build, 'small');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const before = snapshot('killed');
  writeBuild(p.build, 'big', 1, { 'blob.bin': randomBytes(96 * 1024 * 1024) });
  const { releasesDir } = await signalMidUpload(p.dir, 'killed', 'SIGKILL');
  const after = snapshot('killed');
  assert.ok(readdirSync(releasesDir).some((d) => d.endsWith('.partial')), 'killed while uploading');
  assert.equal(after.map((l) => l.current), before.map((l) => l.current));
  for (const r of roots('killed')) assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'small');
  assert.ok(after.some((l) => l.locked), 'a killed run leaves its lock');
  writeBuild(p.build, 'next');
  rmrf(path.join(p.build, 'blob.bin'));
  const blocked = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(blocked.code, 3);
  assert.match(blocked.stderr, /locked by root@\S+ pid \d+ \(deploy test\) since/);
  // Ten minutes later its heartbeat is long stale: a plain unlock clears it.
  const old = new Date(Date.now() - 600_000);
  for (const r of roots('killed')) if (existsSync(path.join(r, '.ship/lock'))) utimesSync(path.join(r, '.ship/lock'), old, old);
  assert.is((await ship(['unlock', 'test'], { cwd: p.dir })).code, 0);
  const ok = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(ok.code, 0, ok.stderr);
  for (const r of roots('killed')) {
    assert.is(readFileSync(path.join(r, 'current/VERSION'), 'utf8'), 'next');
    assert.equal(readdirSync(path.join(r, 'releases')).filter((d) => d.endsWith('.partial')), []);
  }
});

test('Ctrl-C (SIGINT) during the upload: the .partial is removed, locks released, current unchanged', async () => {
  const p = proj('interrupted');
  writeBuild(p.build, 'small');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const before = snapshot('interrupted');
  writeBuild(p.build, 'big', 1, { 'blob.bin': randomBytes(64 * 1024 * 1024) });
  const { run: r } = await signalMidUpload(p.dir, 'interrupted', 'SIGINT');
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, 'interrupted');
  const after = snapshot('interrupted');
  assert.equal(after.map((l) => l.current), before.map((l) => l.current));
  for (const l of after) {
    assert.not.ok(l.locked);
    assert.equal(l.releases.filter((d) => d.endsWith('.partial')), []);
    assert.equal(l.releases, before[0].releases);
  }
});

test('one host failing during upload: no host flips, exit 1, every host unlocked, no .partial left', async () => {
  const p = proj('onefails');
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const before = snapshot('onefails');
  const badReleases = path.join(roots('onefails')[2], 'releases');
  chownSync(badReleases, 0, 0); // host3's releases/ now belongs to root: the deploy user cannot write there
  chmodSync(badReleases, 0o755);
  try {
    writeBuild(p.build, 'v2');
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 1);
    const err = r.events.find((e) => e.type === 'error')!;
    assert.is(err.host, 'host3');
    assert.match(err.message, 'host3');
    const after = snapshot('onefails');
    assert.equal(after.map((l) => l.current), before.map((l) => l.current));
    for (const l of after) {
      assert.not.ok(l.locked);
      assert.equal(l.releases.filter((d) => d.endsWith('.partial')), []);
    }
    assert.not.ok(r.events.some((e) => e.type === 'switch'));
  } finally {
    chownSync(badReleases, ssh.uid, ssh.gid);
  }
});

test('a full disk on one host: clear error naming it, exit 1, nothing flipped, nothing left behind', async () => {
  const p = proj('fulldisk');
  writeBuild(p.build, 'small');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const before = snapshot('fulldisk');
  // host2's deploy root becomes a 3 MiB file system that already holds its releases.
  const root2 = roots('fulldisk')[1];
  const saved = `${root2}.saved`;
  execFileSync('mv', [root2, saved]);
  mkdirSync(root2);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', root2]);
  try {
    execFileSync('cp', ['-a', `${saved}/.`, root2]);
    chownTree(ssh, root2);
    writeBuild(p.build, 'big', 1, { 'blob.bin': randomBytes(4 * 1024 * 1024) });
    const r = await ship(['deploy', 'test'], { cwd: p.dir });
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /host2: not enough disk space in .*: [\d.]+ MiB free, the release needs about [\d.]+ MiB/);
    const after = snapshot('fulldisk');
    assert.equal(after.map((l) => [l.current, l.releases, l.locked]), before.map((l) => [l.current, l.releases, false]));
  } finally {
    execFileSync('umount', [root2]);
    rmrf(root2);
    execFileSync('mv', [saved, root2]);
  }
});

test('unknown and changed host keys: exit 4, nothing written on that host', async () => {
  for (const mode of ['absent', 'other-key'] as const) {
    const extra = await ssh.startExtra(`keys-${mode}`, { knownHosts: mode });
    const dir = tmpDir();
    dirs.push(dir);
    writeConfig(dir, {
      app: 'k',
      ssh: sshBlock(ssh),
      stages: { test: { build: { dir: 'build' }, hosts: [{ name: 'stranger', host: extra.host, port: extra.port, user: extra.user, deployTo: path.join(extra.deployRoot, 'app') }] } },
    });
    writeBuild(path.join(dir, 'build'), 'v1');
    const r = await ship(['deploy', 'test'], { cwd: dir });
    assert.is(r.code, 4, `${mode}: ${r.stderr}`);
    assert.match(r.stderr, 'stranger');
    assert.match(r.stderr, mode === 'absent' ? /unknown/i : /changed/i);
    assert.equal(readdirSync(extra.deployRoot), [], 'nothing written');
  }
});

test('a missing shared file: clear error naming host and file before anything is written', async () => {
  const p = proj('noshared', { shared: { files: ['.env'] } });
  writeBuild(p.build, 'v1');
  writeOwned(ssh, roots('noshared')[0], { 'shared/.env': 'A=1' });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, /host2: shared file missing: .*shared\/\.env/);
  for (const root of roots('noshared')) {
    assert.not.ok(existsSync(path.join(root, 'releases')));
    assert.not.ok(existsSync(path.join(root, '.ship')));
  }
});

test('deploy paths with spaces, quotes, $() and backticks are quoted, never run', async () => {
  const sentinel = path.join(tmpDir('ship-sentinel-'), 'pwned');
  dirs.push(path.dirname(sentinel));
  const sub = `we ird 'q' "dq" $(touch ${sentinel}) \`touch ${sentinel}\` ;touch ${sentinel}`;
  const p = proj(sub, { shared: { dirs: ['up loads $(x)'], files: [] } });
  const odd = `odd name 'x' $(touch ${sentinel}).txt`;
  writeBuild(p.build, 'v1', 2, { [odd]: 'ok' });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  writeBuild(p.build, 'v2', 2);
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  assert.is((await ship(['rollback', 'test'], { cwd: p.dir })).code, 0);
  for (const root of roots(sub)) {
    assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v1');
    assert.ok(existsSync(path.join(root, 'shared/up loads $(x)')));
    assert.ok(existsSync(path.join(root, 'current', odd)));
  }
  assert.not.ok(existsSync(sentinel), 'no injected command ran');
});

test('a symlink escaping the build is refused before anything is uploaded', async () => {
  const p = proj('escape');
  writeBuild(p.build, 'v1');
  symlinkSync('../../../etc/passwd', path.join(p.build, 'lib/passwd'));
  symlinkSync('part0.txt', path.join(p.build, 'lib/inside-link'));
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'symlink lib/passwd -> ../../../etc/passwd leaves the build directory');
  for (const root of roots('escape')) assert.not.ok(existsSync(root));
  rmrf(path.join(p.build, 'lib/passwd'));
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  assert.is(readFileSync(path.join(roots('escape')[0], 'current/lib/inside-link'), 'utf8'), 'v1\n');
});

test('a missing or empty build dir: exit 1, nothing contacted', async () => {
  const p = proj('nobuild');
  let r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'is missing');
  mkdirSync(p.build);
  r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'is empty');
  for (const root of roots('nobuild')) assert.not.ok(existsSync(root));
});

test('a real directory at current is refused, never replaced', async () => {
  const p = proj('realdir');
  writeOwned(ssh, roots('realdir')[0], { 'current/index.html': 'hand-made' });
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, /host1: .*current is a real directory/);
  assert.is(readFileSync(path.join(roots('realdir')[0], 'current/index.html'), 'utf8'), 'hand-made');
  for (const root of roots('realdir').slice(1)) assert.not.ok(existsSync(path.join(root, 'current')));
});

test('bad command lines and configs: exit 2, nothing contacted', async () => {
  const p = proj('usage');
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'nope'], { cwd: p.dir })).code, 2);
  assert.is((await ship(['teleport', 'test'], { cwd: p.dir })).code, 2);
  writeFileSync(path.join(p.dir, 'ship.config.json'), JSON.stringify({ app: 'x', keepReleases: 0, stages: { test: { hosts: ['h'], deployTo: 'rel' } } }));
  const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(r.code, 2);
  const err = r.events.find((e) => e.type === 'error')!;
  assert.is(err.code, 2);
  assert.match(err.message, 'keepReleases');
  assert.is(r.events.at(-1)!.type, 'summary');
  for (const root of roots('usage')) assert.not.ok(existsSync(root));
});

test.run();

/**
 * A published release is never written again: the unchanged files of a new release are
 * hard links of the live release's files, and hooks of the new release that append to or
 * truncate them must not change a byte of the live release. Real sshd hosts.
 */
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { project, sharedSshHosts, sshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('published releases are never written');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

/** sha256 of every regular file under dir (relative path -> hash). */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const live = (root: string) => path.join(root, readlinkSync(path.join(root, 'current')));
/** Appends to one reused file and truncates another; never fails, so the deploy goes on. */
const tamper = (a: string, b: string) => `(echo tampered >> ${a}) 2>/dev/null; (: > ${b}) 2>/dev/null; true`;

test('hooks that append to and truncate reused files change nothing of the live release (deploy succeeds)', async () => {
  const sub = `immut-${randomBytes(3).toString('hex')}`;
  const p = project(ssh, sub, {
    hosts: sshHosts(ssh, sub, 2),
    hooks: {
      'after:upload': [tamper('lib/part0.txt', 'lib/part1.txt')],
      'after:link': [tamper('lib/part2.txt', 'lib/part3.txt')],
      'before:switch': [tamper('lib/part4.txt', 'public/index.html')],
    },
  });
  dirs.push(p.dir);
  const hooks = (p.config.stages.test as Record<string, unknown>).hooks;
  // First deploy without hooks (nothing is shared yet), then the tampering deploy.
  (p.config.stages.test as Record<string, unknown>).hooks = {};
  const { writeConfig } = await import('../harness/ship.js');
  writeConfig(p.dir, p.config);
  writeBuild(p.build, 'v1', 5);
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const roots = ssh.hosts.slice(0, 2).map((h) => path.join(h.deployRoot, sub));
  const before = roots.map((r) => ({ dir: live(r), files: hashes(live(r)) }));

  (p.config.stages.test as Record<string, unknown>).hooks = hooks;
  writeConfig(p.dir, p.config);
  writeBuild(p.build, 'v1', 5, { VERSION: 'v2' }); // only VERSION changes: every lib file is reused
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  roots.forEach((root, i) => {
    assert.equal(hashes(before[i].dir), before[i].files, `the previously live release on host${i + 1} changed`);
    // The new release has the build's bytes too: the writes were refused, not redirected.
    const now = live(root);
    assert.is.not(now, before[i].dir);
    assert.is(readFileSync(path.join(now, 'lib/part0.txt'), 'utf8'), 'v1\n');
    assert.is(readFileSync(path.join(now, 'lib/part1.txt'), 'utf8'), 'v1\n');
    assert.is(readFileSync(path.join(now, 'public/index.html'), 'utf8'), '<h1>v1</h1>');
    assert.is(lstatSync(path.join(now, 'lib/part0.txt')).mode & 0o222, 0, 'files of a release are read-only');
  });
});

test('a hook that writes into a reused file fails the deploy with the reason; the live release keeps every byte', async () => {
  const sub = `immut-fail-${randomBytes(3).toString('hex')}`;
  const p = project(ssh, sub, { hosts: sshHosts(ssh, sub, 2) });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1', 5);
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const roots = ssh.hosts.slice(0, 2).map((h) => path.join(h.deployRoot, sub));
  const before = roots.map((r) => ({ dir: live(r), files: hashes(live(r)) }));

  const { writeConfig } = await import('../harness/ship.js');
  (p.config.stages.test as Record<string, unknown>).hooks = { 'before:switch': ['echo appended >> lib/part0.txt', ': > lib/part1.txt'] };
  writeConfig(p.dir, p.config);
  writeBuild(p.build, 'v1', 5, { VERSION: 'v2' });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /read-only/);
  roots.forEach((root, i) => {
    assert.is(live(root), before[i].dir, 'current did not move');
    assert.equal(hashes(before[i].dir), before[i].files, `the live release on host${i + 1} changed`);
  });
});

test.run();

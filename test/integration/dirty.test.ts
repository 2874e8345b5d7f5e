/**
 * A deploy from a git work tree with uncommitted changes warns and records it: `dirty: true`
 * beside the revision in the host's history and the release's manifest; a clean tree does not.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmrf, ship, tmpDir, writeTree } from '../harness/ship.js';

const test = suite('dirty work tree');
const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));

const git = (d: string, ...args: string[]) => {
  const r = spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: d, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim();
};

test('uncommitted changes: a warning, and dirty: true in history and manifest', async () => {
  const d = tmpDir('ship-dirty-');
  dirs.push(d);
  writeTree(d, {
    '.gitignore': '.ship/\n',
    'package.json': JSON.stringify({ name: 'dirty-app' }),
    'dist/index.html': 'v1',
    'ship.config.json': JSON.stringify({ stages: { demo: { hosts: ['local'], deployTo: './.ship/demo' } } }),
  });
  git(d, 'init', '-q');
  git(d, 'add', '-A');
  git(d, 'commit', '-qm', 'v1');
  const sha = git(d, 'rev-parse', 'HEAD');
  const clean = await ship(['deploy', 'demo', '--json'], { cwd: d });
  assert.is(clean.code, 0, clean.stderr);
  assert.not.ok(clean.events.some((e) => e.type === 'log' && e.level === 'warn' && /uncommitted/.test(e.message)));

  writeFileSync(path.join(d, 'dist/index.html'), 'v2, not committed');
  const r = await ship(['deploy', 'demo', '--json'], { cwd: d });
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.events.some((e) => e.type === 'log' && e.level === 'warn' && /uncommitted changes/.test(e.message)), r.stdout);
  const release = r.events.at(-1)!.release as string;
  const hist = readFileSync(path.join(d, '.ship/demo/.ship/history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pub = hist.filter((e) => e.action === 'publish');
  assert.equal(pub.map((e) => [e.revision, e.dirty ?? false]), [[sha, false], [sha, true]]);
  const manifest = JSON.parse(readFileSync(path.join(d, '.ship/demo/.ship/manifests', `${release}.json`), 'utf8'));
  assert.is(manifest.revision, sha);
  assert.is(manifest.dirty, true);
  assert.is(readFileSync(path.join(d, '.ship/demo/current/REVISION'), 'utf8'), `${sha}\n`);
  assert.is(readdirSync(path.join(d, '.ship/demo/releases')).length, 2);
});

test.run();

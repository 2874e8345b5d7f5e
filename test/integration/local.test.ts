/** The same deploy over the `local` transport: no SSH, the same steps and layout. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readlinkSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { rmrf, ship, writeTree } from '../harness/ship.js';
import { layout, project, writeBuild } from '../harness/stage.js';

const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));

test('local: deploy, second deploy, prune, rollback, releases --json', async () => {
  const p = project(undefined, '', { deployTo: './srv app', shared: { dirs: ['storage'], files: ['.env'] } }, { keepReleases: 2 });
  dirs.push(p.dir);
  const root = path.join(p.dir, 'srv app');
  writeTree(root, { 'shared/.env': 'TOKEN=s3cret\n' });
  const ids: string[] = [];
  for (const v of ['v1', 'v2', 'v3']) {
    writeBuild(p.build, v, 2, { 'storage/x': 'dropped' });
    const r = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
    assert.is(r.code, 0, r.stderr);
    ids.push(r.events.at(-1)!.release);
    assert.not.match(r.stdout + r.stderr, 's3cret');
  }
  const l = layout(root);
  assert.equal(l.releases, ids.slice(1), 'keepReleases 2');
  assert.is(l.current, `releases/${ids[2]}`);
  assert.is(readlinkSync(path.join(root, 'current/storage')), '../../shared/storage');
  assert.is(readFileSync(path.join(root, 'current/.env'), 'utf8'), 'TOKEN=s3cret\n');
  assert.equal(readdirSync(path.join(root, 'shared/storage')), []);
  const rb = await ship(['rollback', 'test'], { cwd: p.dir });
  assert.is(rb.code, 0, rb.stderr);
  assert.is(readFileSync(path.join(root, 'current/VERSION'), 'utf8'), 'v2');
  const rel = await ship(['releases', 'test', '--json'], { cwd: p.dir });
  assert.equal(
    rel.events.filter((e) => e.type !== 'summary').map((e) => [e.host, e.id, e.state, e.current]),
    [
      ['local', ids[1], 'active', true],
      ['local', ids[2], 'rolled-back', false],
    ],
  );
  assert.is(rel.events.at(-1)!.type, 'summary');
  assert.not.ok(existsSync(path.join(root, '.ship/lock')));
});

test('local: --dry-run reads and plans but writes nothing', async () => {
  const p = project(undefined, '', { deployTo: './srv' });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test', '--dry-run'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'dry run');
  assert.match(r.stderr, /would upload release \d{14}: send 7 files/);
  assert.not.ok(existsSync(path.join(p.dir, 'srv')));
  // After real deploys, a dry run tells what it would reuse and prune, and changes nothing.
  for (const v of ['v1', 'v2']) {
    writeBuild(p.build, v);
    assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  }
  const before = layout(path.join(p.dir, 'srv'));
  writeTree(p.build, { VERSION: 'v3' });
  const d = await ship(['deploy', 'test', '--dry-run'], { cwd: p.dir });
  assert.is(d.code, 0, d.stderr);
  assert.match(d.stderr, /send 1 files .* reuse 6 from \d{14}/);
  assert.equal(layout(path.join(p.dir, 'srv')), before);
});

test('local: a failing build command exits 1 and changes nothing', async () => {
  const p = project(undefined, '', { deployTo: './srv', build: { dir: 'build', command: 'echo building; echo broken >&2; exit 3' } });
  dirs.push(p.dir);
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'build command');
  assert.match(r.stderr, 'broken');
  assert.not.ok(existsSync(path.join(p.dir, 'srv')));
});

test.run();

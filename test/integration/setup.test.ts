/** ship setup over real sshd hosts: directories, shared-file uploads, idempotence, --force, --dry-run. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship, writeConfig } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('setup');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

/** Every path under root with type, mode, size and mtime (the .ship dir's own mtime aside: the lock comes and goes there). */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const p = path.join(root, rel);
    const st = lstatSync(p);
    const type = st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : 'f';
    const mtime = rel === '.ship' ? '-' : String(st.mtimeMs);
    out.push(`${rel} ${type} ${(st.mode & 0o7777).toString(8)} ${type === 'f' ? st.size : '-'} ${mtime}`);
    if (type === 'd') for (const n of readdirSync(p).sort()) walk(rel === '.' ? n : path.join(rel, n));
  };
  walk('.');
  return out;
}

const mode = (p: string) => (lstatSync(p).mode & 0o777).toString(8);

test('setup creates the tree and uploads shared files (0600 for .env); a second run changes nothing', async () => {
  const p = project(ssh, 'setup1', {
    shared: { dirs: ['storage/logs'], files: ['.env'], upload: { '.env': 'secrets/.env.production', 'config/app.json': 'app.json' } },
  });
  dirs.push(p.dir);
  writeFileSync(path.join(p.dir, 'app.json'), '{"a":1}\n');
  const secrets = path.join(p.dir, 'secrets');
  (await import('node:fs')).mkdirSync(secrets);
  writeFileSync(path.join(secrets, '.env.production'), 'SECRET_TOKEN=hunter2-setup\n');
  const r = await ship(['setup', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stdout + r.stderr, 'hunter2-setup');
  for (const h of ssh.hosts) {
    const root = path.join(h.deployRoot, 'setup1');
    for (const d of ['releases', 'shared', 'shared/storage/logs', 'shared/config', '.ship']) assert.ok(lstatSync(path.join(root, d)).isDirectory(), `${h.name} ${d}`);
    assert.is(readFileSync(path.join(root, 'shared/.env'), 'utf8'), 'SECRET_TOKEN=hunter2-setup\n');
    assert.is(mode(path.join(root, 'shared/.env')), '600');
    assert.is(readFileSync(path.join(root, 'shared/config/app.json'), 'utf8'), '{"a":1}\n');
    assert.is(mode(path.join(root, 'shared/config/app.json')), '644');
    assert.ok(!existsSync(path.join(root, '.ship/lock')), 'unlocked');
    assert.equal(readdirSync(path.join(root, 'shared')).filter((n) => n.includes('.tmp')), [], 'no temp files left');
    const hist = layout(root).history;
    assert.equal(hist.map((e) => [e.action, e.outcome]), [['setup', 'ok']]);
    assert.match(r.stderr, new RegExp(`\\[${h.name}\\] created .*releases/.*; uploaded \\.env config/app\\.json`));
  }
  const before = ssh.hosts.map((h) => listing(path.join(h.deployRoot, 'setup1')));
  const again = await ship(['setup', 'test'], { cwd: p.dir });
  assert.is(again.code, 0, again.stderr);
  assert.equal(ssh.hosts.map((h) => listing(path.join(h.deployRoot, 'setup1'))), before, 'the second run changed nothing');
  for (const h of ssh.hosts) assert.match(again.stderr, new RegExp(`\\[${h.name}\\] nothing to do; \\.env config/app\\.json up to date`));
  // The stage deploys now: the shared file is in place.
  writeBuild(p.build, 'v1');
  const d = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(d.code, 0, d.stderr);
  assert.is(readFileSync(path.join(ssh.hosts[0].deployRoot, 'setup1/current/.env'), 'utf8'), 'SECRET_TOKEN=hunter2-setup\n');
});

test('setup --dry-run says what it would do and writes nothing', async () => {
  const p = project(ssh, 'setup-dry', { shared: { dirs: ['storage'] } });
  dirs.push(p.dir);
  writeFileSync(path.join(p.dir, 'env.local'), 'X=1\n');
  const r = await ship(['setup', 'test', '--dry-run', '--upload', '.env=env.local'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const h of ssh.hosts) {
    assert.ok(!existsSync(path.join(h.deployRoot, 'setup-dry')), `${h.name}: nothing created`);
    assert.match(r.stderr, new RegExp(`\\[${h.name}\\] would create .*shared/storage/.*; would upload \\.env`));
  }
});

test('an existing shared file that differs is kept unless --force, which keeps a .bak; --upload-secret gives 0600', async () => {
  const p = project(ssh, 'setup-force');
  dirs.push(p.dir);
  writeConfig(p.dir, { ...p.config, stages: { test: { ...p.config.stages.test, hosts: p.config.stages.test.hosts.slice(0, 2) } } });
  const local = path.join(p.dir, 'prod.env');
  writeFileSync(local, 'A=old\n');
  writeFileSync(path.join(p.dir, 'master.key'), 'key-one\n');
  let r = await ship(['setup', 'test', '--upload', '.env=prod.env', '--upload-secret', 'config/master.key=master.key'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const roots = ssh.hosts.slice(0, 2).map((h) => path.join(h.deployRoot, 'setup-force'));
  for (const root of roots) {
    assert.is(mode(path.join(root, 'shared/config/master.key')), '600');
    assert.is(mode(path.join(root, 'shared/.env')), '600');
  }
  writeFileSync(local, 'A=new\n');
  r = await ship(['setup', 'test', '--upload', '.env=prod.env'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /exists and differs .*left as it is/);
  for (const root of roots) assert.is(readFileSync(path.join(root, 'shared/.env'), 'utf8'), 'A=old\n');
  r = await ship(['setup', 'test', '--upload', '.env=prod.env', '--force'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const root of roots) {
    assert.is(readFileSync(path.join(root, 'shared/.env'), 'utf8'), 'A=new\n');
    assert.is(mode(path.join(root, 'shared/.env')), '600');
    const baks = readdirSync(path.join(root, 'shared')).filter((n) => /^\.env\.\d{14}(-\d+)?\.bak$/.test(n));
    assert.is(baks.length, 1, readdirSync(path.join(root, 'shared')).join(' '));
    assert.is(readFileSync(path.join(root, 'shared', baks[0]), 'utf8'), 'A=old\n');
    assert.is(mode(path.join(root, 'shared', baks[0])), '600');
  }
  // --force with the same bytes again: nothing to replace, no second backup.
  r = await ship(['setup', 'test', '--upload', '.env=prod.env', '--force'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const root of roots) assert.is(readdirSync(path.join(root, 'shared')).filter((n) => n.endsWith('.bak')).length, 1);
});

test('a missing local file is exit 2 and nothing is created; the missing-shared-file error points to ship setup', async () => {
  const p = project(ssh, 'setup-missing', { shared: { files: ['.env'], upload: { '.env': 'nope.env' } } });
  dirs.push(p.dir);
  let r = await ship(['setup', 'test'], { cwd: p.dir });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /nope\.env.*no such file/);
  for (const h of ssh.hosts) assert.ok(!existsSync(path.join(h.deployRoot, 'setup-missing')));
  writeBuild(p.build, 'v1');
  r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1);
  assert.match(r.stderr, /ship setup test --upload \.env=/);
  r = await ship(['check', 'test'], { cwd: p.dir });
  assert.match(r.stdout, /shared \.env\s+missing: .*ship setup test --upload \.env=/);
});

test.run();

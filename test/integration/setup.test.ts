/** ship setup over real sshd hosts: directories, shared-file uploads, idempotence, --force, --dry-run. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, lchownSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship, writeConfig } from '../harness/ship.js';
import { chownTree, layout, project, sharedSshHosts, writeBuild } from '../harness/stage.js';

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
  // An upload asked for and left undone is exit 1 (a CI job that meant to update .env notices).
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /exists and differs .*left as it is/);
  for (const h of ssh.hosts.slice(0, 2)) assert.match(r.stderr, new RegExp(`setup left shared files that differ .*${h.name}: \\.env`));
  assert.match(r.stderr, /--force replaces them/);
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

test('the remote mode is never wider than the local file (a local 0600 config/master.key stays 0600); a .bak is 0600', async () => {
  const p = project(ssh, 'setup-modes');
  dirs.push(p.dir);
  writeConfig(p.dir, { ...p.config, stages: { test: { ...p.config.stages.test, hosts: p.config.stages.test.hosts.slice(0, 1) } } });
  const key = path.join(p.dir, 'master.key');
  writeFileSync(key, 'key-one\n');
  chmodSync(key, 0o600);
  const app = path.join(p.dir, 'app.json');
  writeFileSync(app, '{"a":1}\n');
  chmodSync(app, 0o640);
  const tool = path.join(p.dir, 'tool.sh');
  writeFileSync(tool, '#!/bin/sh\n');
  chmodSync(tool, 0o777);
  const pub = path.join(p.dir, 'public.txt');
  writeFileSync(pub, 'hi\n');
  chmodSync(pub, 0o666);
  const uploads = ['--upload', 'config/master.key=master.key', '--upload', 'config/app.json=app.json', '--upload', 'bin/tool.sh=tool.sh', '--upload', 'public.txt=public.txt'];
  let r = await ship(['setup', 'test', ...uploads], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const shared = path.join(ssh.hosts[0].deployRoot, 'setup-modes/shared');
  assert.is(mode(path.join(shared, 'config/master.key')), '600');
  assert.is(mode(path.join(shared, 'config/app.json')), '640');
  assert.is(mode(path.join(shared, 'bin/tool.sh')), '755');
  assert.is(mode(path.join(shared, 'public.txt')), '644');
  // --force over a 0640 file: the backup of the old bytes is 0600, whatever the old mode was.
  writeFileSync(app, '{"a":2}\n');
  r = await ship(['setup', 'test', ...uploads, '--force'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(path.join(shared, 'config/app.json'), 'utf8'), '{"a":2}\n');
  const baks = readdirSync(path.join(shared, 'config')).filter((n) => n.endsWith('.bak'));
  assert.is(baks.length, 1, baks.join(' '));
  assert.is(readFileSync(path.join(shared, 'config', baks[0]), 'utf8'), '{"a":1}\n');
  assert.is(mode(path.join(shared, 'config', baks[0])), '600');
});

test('a shared file that is a symlink is refused (host and path named), even with --force: nothing is changed', async () => {
  const p = project(ssh, 'setup-link');
  dirs.push(p.dir);
  writeConfig(p.dir, { ...p.config, stages: { test: { ...p.config.stages.test, hosts: p.config.stages.test.hosts.slice(0, 1) } } });
  writeFileSync(path.join(p.dir, 'prod.env'), 'A=one\n');
  let r = await ship(['setup', 'test', '--upload', '.env=prod.env'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  const h = ssh.hosts[0];
  const root = path.join(h.deployRoot, 'setup-link');
  // The operator keeps the real secret elsewhere and links it into shared/.
  const secret = path.join(root, 'secret.env');
  writeFileSync(secret, 'A=secret-elsewhere\n');
  chmodSync(secret, 0o600);
  chownTree(ssh, secret);
  rmSync(path.join(root, 'shared/.env'));
  symlinkSync(secret, path.join(root, 'shared/.env'));
  lchownSync(path.join(root, 'shared/.env'), ssh.uid, ssh.gid);
  writeFileSync(path.join(p.dir, 'prod.env'), 'A=two\n');
  const before = listing(root);
  for (const force of [['--force'], []]) {
    r = await ship(['setup', 'test', '--upload', '.env=prod.env', ...force], { cwd: p.dir });
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, `${h.name}: ${path.join(root, 'shared/.env')} is a symlink (to ${secret})`);
    assert.ok(lstatSync(path.join(root, 'shared/.env')).isSymbolicLink(), 'the link is still a link');
    assert.is(readFileSync(secret, 'utf8'), 'A=secret-elsewhere\n', 'the file it points to is untouched');
    assert.equal(listing(root), before, 'nothing changed (no .bak, no temp file)');
  }
  // The same bytes behind the link: up to date, nothing to refuse.
  writeFileSync(path.join(p.dir, 'prod.env'), 'A=secret-elsewhere\n');
  r = await ship(['setup', 'test', '--upload', '.env=prod.env', '--force'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /\.env up to date/);
});

test.run();

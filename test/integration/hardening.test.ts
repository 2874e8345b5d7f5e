/**
 * Smaller holes, each over a real sshd host: a migration file name cannot run code
 * whatever the quoting of `{file}` in migrations.run; an Include with a glob in a
 * directory part does not let `ssh -G` run a `Match exec` command; health-check URLs are
 * shown and stored with credentials and query values redacted; the disk check counts
 * inodes and refuses before writing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, type SshHosts } from '../harness/sshd.js';
import { rmrf, ship, tmpDir } from '../harness/ship.js';
import { chownTree, project, sharedSshHosts, sshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('hardening');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const sub = (name: string) => `${name}-${randomBytes(3).toString('hex')}`;
/** Every path under dir whose name contains `needle`. */
function findNamed(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of existsSync(d) ? readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, n.name);
      if (n.name.includes(needle)) out.push(p);
      if (n.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

test('a migration file name runs nothing, with {file} in double quotes, bare or in single quotes', async () => {
  const s = sub('migq');
  const root = path.join(ssh.hosts[0].deployRoot, s);
  const run = [
    `cat "{file}" >> "$SHIP_DEPLOY_TO/dq.log"`,
    `cat {file} >> "$SHIP_DEPLOY_TO/bare.log"`,
    `sh -c 'cat "$1" {file} >> "$SHIP_DEPLOY_TO/sq.log"' sh /dev/null`,
  ].join(' && ');
  const p = project(ssh, s, { hosts: sshHosts(ssh, s, 1), migrations: { run } });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1', 1, {
    'migrations/001_a.sql$(touch pwned-dollar)': 'one\n',
    'migrations/002_b.sql`touch pwned-tick`': 'two\n',
    "migrations/003_c.sql'$(touch pwned-quote)'": 'three\n',
  });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  for (const log of ['dq.log', 'bare.log', 'sq.log']) assert.is(readFileSync(path.join(root, log), 'utf8'), 'one\ntwo\nthree\n', log);
  assert.equal(findNamed(root, 'pwned').filter((p) => !p.includes('migrations')), [], 'a file name ran a command');
});

test('Include with a glob in a directory part: ssh -G never runs a Match exec command', async () => {
  const home = tmpDir('ship-home-');
  dirs.push(home);
  const marker = path.join(home, 'match-exec-ran');
  mkdirSync(path.join(home, '.ssh/team'), { recursive: true });
  writeFileSync(path.join(home, '.ssh/config'), `Include ${home}/.ssh/*/config\n`);
  writeFileSync(path.join(home, '.ssh/team/config'), `Match exec "touch ${marker}"\n  User nobody\n`);
  const s = sub('include');
  const p = project(ssh, s, { hosts: sshHosts(ssh, s, 1) });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir, env: { HOME: home } });
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(marker), 'ssh -G ran the Match exec command');
});

test('health-check URLs are shown and stored with credentials and query values redacted', async () => {
  const s = sub('hcredact');
  const port = await freePort(); // nothing listens there: the check fails and says so
  const p = project(ssh, s, {
    hosts: sshHosts(ssh, s, 1).map((h) => ({ ...h, healthcheck: { url: `http://deploy:pa55w0rd@127.0.0.1:${port}/healthz?token=t0ken-${s}&v=2`, retries: 0, timeout: 1000 } })),
  });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `http://***:***@127.0.0.1:${port}/healthz?token=***&v=***`);
  const history = readFileSync(path.join(ssh.hosts[0].deployRoot, s, '.ship/history.jsonl'), 'utf8');
  for (const text of [r.stdout, r.stderr, history]) {
    assert.not.ok(text.includes('pa55w0rd'), 'password shown');
    assert.not.ok(text.includes(`t0ken-${s}`), 'token shown');
  }
});

test('the disk check counts inodes: a host that cannot hold the release file count is refused before writing', async () => {
  const s = sub('inodes');
  const root = path.join(ssh.hosts[0].deployRoot, s);
  mkdirSync(root);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,nr_inodes=300', 'tmpfs', root]);
  try {
    chownTree(ssh, root);
    const p = project(ssh, s, { hosts: sshHosts(ssh, s, 1) });
    dirs.push(p.dir);
    writeBuild(p.build, 'v1', 400); // ~400 files: more than the file system's inodes
    const r = await ship(['deploy', 'test'], { cwd: p.dir });
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /host1: not enough inodes in .*: \d+ free, the release has \d+ files and directories/);
    const releases = path.join(root, 'releases');
    assert.equal(existsSync(releases) ? readdirSync(releases) : [], [], 'nothing written');
  } finally {
    execFileSync('umount', [root]);
    rmrf(root);
  }
});

test.run();

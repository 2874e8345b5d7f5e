/**
 * Host keys like OpenSSH, over a real sshd: the global known_hosts file is read in every
 * mode, a key it contradicts is refused even under accept-new (and nothing is saved),
 * accept-new saves a new key only once the key exchange completed (what OpenSSH does when
 * the login then fails is checked against the real ssh client), and a host vouched for
 * only by a @cert-authority line is refused with a message naming it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHost, SshHosts } from '../harness/sshd.js';
import { rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { sharedSshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
let host: SshHost;
let dir: string;
const test = suite('host keys like OpenSSH');
test.before(async () => {
  ssh = await sharedSshHosts();
  // Not listed in the harness's known_hosts: each test brings its own files.
  host = await ssh.startExtra('hostkeys', { knownHosts: 'absent' });
  dir = tmpDir('ship-hostkeys-');
});
test.after(() => rmrf(dir));

let n = 0;
/** A project with its own (empty unless given) user known_hosts and a global one. */
function setup(opts: { global?: string; user?: string; strict: 'yes' | 'accept-new'; privateKey?: string }) {
  const p = path.join(dir, `p${++n}`);
  const userFile = path.join(p, 'known_hosts');
  const globalFile = path.join(p, 'ssh_known_hosts');
  writeBuild(path.join(p, 'build'), 'v1');
  writeFileSync(userFile, opts.user ?? '');
  writeFileSync(globalFile, opts.global ?? '');
  writeConfig(p, {
    app: 'hk',
    ssh: { privateKey: opts.privateKey ?? ssh.privateKey, knownHosts: userFile, globalKnownHosts: globalFile, strictHostKeyChecking: opts.strict },
    stages: { test: { build: { dir: 'build' }, hosts: [{ name: 'keyhost', host: host.host, port: host.port, user: host.user, deployTo: path.join(host.deployRoot, `app${n}`) }] } },
  });
  return { dir: p, userFile, globalFile };
}

const hostField = () => `[127.0.0.1]:${host.port}`;
function otherKey(): string {
  const f = path.join(dir, `other${++n}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f], { stdio: 'ignore' });
  return readFileSync(`${f}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

test('a key the global known_hosts contradicts is refused under accept-new: exit 4, nothing saved or written', async () => {
  const p = setup({ strict: 'accept-new', global: `${hostField()} ${otherKey()}\n` });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /HOST KEY CHANGED/);
  assert.match(r.stderr, p.globalFile);
  assert.is(readFileSync(p.userFile, 'utf8'), '', 'nothing saved');
  assert.equal(readdirSync(host.deployRoot).filter((d) => d === `app${n}`), []);
});

test('the global known_hosts is read under strictHostKeyChecking yes: a key listed only there is trusted', async () => {
  const p = setup({ strict: 'yes', global: `${hostField()} ${host.hostKeyPub}\n` });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(p.userFile, 'utf8'), '');
});

test('accept-new on an unknown host: saved after a successful connect', async () => {
  const p = setup({ strict: 'accept-new' });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(p.userFile, 'utf8'), `${hostField()} ${host.hostKeyPub}\n`);
});

test('accept-new when the login then fails: saved or not exactly as the OpenSSH client does', async () => {
  const wrong = path.join(dir, 'wrong_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong], { stdio: 'ignore' });
  const p = setup({ strict: 'accept-new', privateKey: wrong });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /authentication failed/);
  const openssh = path.join(dir, 'openssh_known_hosts');
  writeFileSync(openssh, '');
  const o = spawnSync(
    'ssh',
    ['-F', 'none', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${openssh}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-i', wrong, '-p', String(host.port), `${host.user}@127.0.0.1`, 'true'],
    { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '' } },
  );
  assert.is.not(o.status, 0, 'OpenSSH could not log in either');
  const opensshSaved = readFileSync(openssh, 'utf8').includes(host.hostKeyPub.split(' ')[1]);
  const shipSaved = readFileSync(p.userFile, 'utf8').includes(host.hostKeyPub.split(' ')[1]);
  assert.is(shipSaved, opensshSaved, `OpenSSH saved: ${opensshSaved}`);
});

test('a host named only by a @cert-authority line is refused with a message naming it; nothing saved', async () => {
  const p = setup({ strict: 'accept-new', global: `@cert-authority [127.0.0.1]:* ${otherKey()}\n` });
  const r = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /keyhost/);
  assert.match(r.stderr, /@cert-authority/);
  assert.match(r.stderr, hostField());
  assert.is(readFileSync(p.userFile, 'utf8'), '');
});

test.run();

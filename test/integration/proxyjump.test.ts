/**
 * ProxyJump chains over real sshd hosts. The jump servers log at DEBUG1, where sshd
 * writes one `server_request_direct_tcpip` line per forwarded connection, and each only
 * forwards to the next hop (PermitOpen): a chain that is not used, or used out of order,
 * fails these tests.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHost, SshHosts } from '../harness/sshd.js';
import { rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { sharedSshHosts, sshBlock } from '../harness/stage.js';

let ssh: SshHosts;
let a: SshHost;
let b: SshHost;
let open: SshHost;
const dirs: string[] = [];
const test = suite('proxyjump');
test.before(async () => {
  ssh = await sharedSshHosts();
  const target = ssh.hosts[0];
  b = await ssh.startExtra('jumpB', { knownHosts: 'listed', logLevel: 'DEBUG1', permitOpen: `127.0.0.1:${target.port}` });
  a = await ssh.startExtra('jumpA', { knownHosts: 'listed', logLevel: 'DEBUG1', permitOpen: `127.0.0.1:${b.port}` });
  open = await ssh.startExtra('jumpOpen', { knownHosts: 'listed' });
});
test.after(() => dirs.forEach(rmrf));

const log = (h: SshHost) => readFileSync(path.join(ssh.tmp, 'hosts', h.name, 'sshd.log'), 'utf8');
const forwards = (h: SshHost, port: number) => log(h).split('\n').filter((l) => new RegExp(`server_request_direct_tcpip: originator .* target 127\\.0\\.0\\.1 port ${port}\\b`).test(l)).length;

function stageDir(sub: string, host: Record<string, unknown>, ssh2: Record<string, unknown> = {}) {
  const dir = tmpDir('ship-pj-');
  dirs.push(dir);
  writeConfig(dir, { app: 'pj', ssh: { ...sshBlock(ssh), ...ssh2 }, stages: { test: { hosts: [{ deployTo: path.join(ssh.hosts[0].deployRoot, sub), ...host }] } } });
  return dir;
}

test('ProxyJump a,b in ~/.ssh/config: the target is reached through A, then B', async () => {
  const target = ssh.hosts[0];
  const home = tmpDir('ship-pj-home-');
  dirs.push(home);
  mkdirSync(path.join(home, '.ssh'));
  const hostBlock = (alias: string, port: number, extra = '') => `Host ${alias}\n  HostName 127.0.0.1\n  Port ${port}\n  User ${ssh.user}\n  IdentityFile ${ssh.privateKey}\n${extra}`;
  writeFileSync(path.join(home, '.ssh/config'), [hostBlock('shiptarget', target.port, '  ProxyJump jumpa,jumpb\n'), hostBlock('jumpa', a.port), hostBlock('jumpb', b.port)].join('\n'));
  const dir = stageDir('pj-sshconfig', { host: 'shiptarget' });
  const [fa, fb] = [forwards(a, b.port), forwards(b, target.port)];
  const r = await ship(['setup', 'test'], { cwd: dir, env: { HOME: home } });
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(target.deployRoot, 'pj-sshconfig/releases')), 'the target was set up');
  assert.is(forwards(a, b.port), fa + 1, 'A forwarded one connection to B');
  assert.is(forwards(b, target.port), fb + 1, 'B forwarded one connection to the target');
  // ship config shows the chain it used.
  const c = await ship(['config', 'test', '--json'], { cwd: dir, env: { HOME: home } });
  assert.is(c.code, 0, c.stderr);
  const host = c.events.find((e) => e.name === 'shiptarget');
  assert.equal(host?.connection?.proxyJump, [`${ssh.user}@127.0.0.1:${a.port}`, `${ssh.user}@127.0.0.1:${b.port}`]);
});

test('ssh.proxyJump in the config: the same chain, as a list', async () => {
  const target = ssh.hosts[0];
  const dir = stageDir('pj-config', { host: `${ssh.user}@127.0.0.1:${target.port}` }, { proxyJump: [`${ssh.user}@127.0.0.1:${a.port}`, `${ssh.user}@127.0.0.1:${b.port}`] });
  const [fa, fb] = [forwards(a, b.port), forwards(b, target.port)];
  const r = await ship(['setup', 'test'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(target.deployRoot, 'pj-config/shared')));
  assert.is(forwards(a, b.port), fa + 1);
  assert.is(forwards(b, target.port), fb + 1);
});

test('a hop whose host key is unknown or changed is refused (exit 4) and nothing is written', async () => {
  const target = ssh.hosts[0];
  const unknown = await ssh.startExtra('jumpUnknown', { knownHosts: 'absent' });
  const changed = await ssh.startExtra('jumpChanged', { knownHosts: 'other-key' });
  const hop = (h: SshHost) => `${ssh.user}@127.0.0.1:${h.port}`;
  let dir = stageDir('pj-unknown', { host: `${ssh.user}@127.0.0.1:${target.port}` }, { proxyJump: `${hop(open)},${hop(unknown)}` });
  let r = await ship(['setup', 'test'], { cwd: dir });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`jump host ${hop(unknown)} \\(for 127\\.0\\.0\\.1:${target.port}\\): host key of \\[127\\.0\\.0\\.1\\]:${unknown.port} is unknown`));
  assert.not.ok(existsSync(path.join(target.deployRoot, 'pj-unknown')));
  dir = stageDir('pj-changed', { host: `${ssh.user}@127.0.0.1:${target.port}` }, { proxyJump: [hop(open), hop(changed)] });
  r = await ship(['setup', 'test'], { cwd: dir });
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`jump host ${hop(changed)} .*HOST KEY CHANGED for \\[127\\.0\\.0\\.1\\]:${changed.port}`));
  assert.not.ok(existsSync(path.join(target.deployRoot, 'pj-changed')));
});

test('~/.ssh/config: a ProxyCommand is refused (exit 2 naming the host, nothing written), a HostKeyAlias is warned about', async () => {
  const target = ssh.hosts[0];
  const home = tmpDir('ship-pj-home-');
  dirs.push(home);
  mkdirSync(path.join(home, '.ssh'));
  const marker = path.join(home, 'PROXYCOMMAND-RAN');
  const block = (alias: string, extra: string) => `Host ${alias}\n  HostName 127.0.0.1\n  Port ${target.port}\n  User ${ssh.user}\n  IdentityFile ${ssh.privateKey}\n${extra}`;
  writeFileSync(path.join(home, '.ssh/config'), [block('shippc', `  ProxyCommand touch ${marker}\n`), block('shipalias', '  HostKeyAlias some-other-name\n')].join('\n'));
  const pc = stageDir('pj-proxycommand', { host: 'shippc' });
  let r = await ship(['setup', 'test'], { cwd: pc, env: { HOME: home } });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'shippc');
  assert.match(r.stderr, `a ProxyCommand (touch ${marker}), which ship does not run`);
  assert.not.ok(existsSync(path.join(target.deployRoot, 'pj-proxycommand')), 'nothing was written');
  assert.not.ok(existsSync(marker), 'the ProxyCommand never ran');
  // ssh.proxyJump: 'none' says to connect directly on purpose.
  const direct = stageDir('pj-proxycommand-none', { host: 'shippc' }, { proxyJump: 'none' });
  r = await ship(['setup', 'test'], { cwd: direct, env: { HOME: home } });
  assert.is(r.code, 0, r.stderr);
  const alias = stageDir('pj-hostkeyalias', { host: 'shipalias' });
  r = await ship(['setup', 'test'], { cwd: alias, env: { HOME: home } });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'HostKeyAlias some-other-name');
  assert.match(r.stderr, 'checks the host key under the real host and port');
  assert.ok(existsSync(path.join(target.deployRoot, 'pj-hostkeyalias/releases')));
});

test.run();

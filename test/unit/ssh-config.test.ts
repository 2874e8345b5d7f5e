import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJump, resolveSshConfig } from '../../src/transport/ssh-config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-sshcfg-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const home = os.homedir();
const pwned = path.join(tmp, 'PWNED');
const cfg = path.join(tmp, 'config');
writeFileSync(
  cfg,
  `# ship test config
Host web web-alias
  HostName %h.example.com
  User deploy
  Port 2222
  IdentityFile ~/.ssh/web_key
  IdentityFile /keys/%r-%h
  UserKnownHostsFile ~/.ssh/kh1 /etc/ship/kh2
  ProxyJump jump@bastion.example.com:2200

Match exec "touch ${pwned}"
  User evil

Host direct
  HostName 10.0.0.9
  ProxyJump none

Host *.internal
  Port 22022

Host *
  User fallback
  IdentityFile ~/.ssh/id_default
`,
);

test('resolves HostName (%h), User, Port, IdentityFile list, UserKnownHostsFile, ProxyJump', () => {
  const r = resolveSshConfig('web', cfg);
  assert.is(r.hostName, 'web.example.com');
  assert.is(r.user, 'deploy'); // first obtained value wins, as in OpenSSH
  assert.is(r.port, 2222);
  assert.equal(r.identityFile, [`${home}/.ssh/web_key`, '/keys/deploy-web.example.com', `${home}/.ssh/id_default`]);
  assert.equal(r.userKnownHostsFile, [`${home}/.ssh/kh1`, '/etc/ship/kh2']);
  assert.is(r.proxyJump, 'jump@bastion.example.com:2200');
  assert.is(resolveSshConfig('web-alias', cfg).hostName, 'web-alias.example.com');
});

test('never runs Match exec', () => {
  const r = resolveSshConfig('direct', cfg);
  assert.not.ok(existsSync(pwned), 'Match exec was executed');
  assert.is(r.user, 'fallback');
});

test('ProxyJump none, wildcard hosts, unknown alias and missing file', () => {
  const d = resolveSshConfig('direct', cfg);
  assert.is(d.hostName, '10.0.0.9');
  assert.is(d.proxyJump, undefined);
  assert.is(d.port, undefined);
  assert.is(resolveSshConfig('db.internal', cfg).port, 22022);
  const other = resolveSshConfig('elsewhere', cfg);
  assert.is(other.hostName, undefined);
  assert.is(other.user, 'fallback');
  assert.equal(resolveSshConfig('web', path.join(tmp, 'missing')), {});
});

test('parseJump', () => {
  assert.equal(parseJump('jump@bastion:2200'), { user: 'jump', host: 'bastion', port: 2200 });
  assert.equal(parseJump('bastion'), { user: undefined, host: 'bastion', port: undefined });
  assert.equal(parseJump('ssh://u@[::1]:22'), { user: 'u', host: '::1', port: 22 });
});

test.run();

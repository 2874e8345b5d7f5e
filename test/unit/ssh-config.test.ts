import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configMayRunCommands, parseJump, resolveSshConfig } from '../../src/transport/ssh-config.js';

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

test('ssh -G answers where it cannot run a command: Include is followed, defaults stay defaults', () => {
  const inc = path.join(tmp, 'included.conf');
  writeFileSync(inc, 'Host app\n  Port 2200\n  User ops\n  IdentityFile ~/.ssh/app_key\n');
  const main = path.join(tmp, 'with-include');
  writeFileSync(main, `Include ${inc}\nHost app\n  HostName app.example.com\n`);
  assert.not.ok(configMayRunCommands(main));
  const r = resolveSshConfig('app', main);
  // The package alone does not follow Include: these come from OpenSSH itself.
  assert.equal([r.hostName, r.port, r.user], ['app.example.com', 2200, 'ops']);
  assert.equal(r.identityFile, [`${home}/.ssh/app_key`]);
  const plain = resolveSshConfig('unlisted', main);
  assert.is(plain.identityFile, undefined, "OpenSSH's default key list is left to ship's default");
  assert.is(plain.port, 22);
});

test('a Match exec in an included file keeps ssh -G from running it', () => {
  const evil = path.join(tmp, 'evil.conf');
  const marker = path.join(tmp, 'PWNED-INCLUDE');
  writeFileSync(evil, `Match exec "touch ${marker}"\n  User evil\n`);
  const main = path.join(tmp, 'includes-evil');
  writeFileSync(main, `Include ${path.join(tmp, 'ev*.conf')}\nHost box\n  Port 2300\n`);
  assert.ok(configMayRunCommands(main));
  const r = resolveSshConfig('box', main);
  assert.is(r.port, 2300);
  assert.not.ok(existsSync(marker), 'Match exec was executed');
});

test('parseJump', () => {
  assert.equal(parseJump('jump@bastion:2200'), { user: 'jump', host: 'bastion', port: 2200 });
  assert.equal(parseJump('bastion'), { user: undefined, host: 'bastion', port: undefined });
  assert.equal(parseJump('ssh://u@[::1]:22'), { user: 'u', host: '::1', port: 22 });
});

test.run();

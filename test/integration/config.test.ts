/** ship config: the resolved stage per host, with ~/.ssh/config's answers and secrets redacted. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship, tmpDir, writeConfig } from '../harness/ship.js';
import { sharedSshHosts } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('config');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const SECRETS = ['envsecret-top-1', 'envsecret-host-2', 'pw-in-url-3', 'token-in-query-4', 'passphrase-5', 'envfile-secret-6', 'reload-key-7'];

test('config shows every merge and ~/.ssh/config answers per host, and never a secret', async () => {
  const dir = tmpDir('ship-cfg-');
  const home = tmpDir('ship-cfg-home-');
  dirs.push(dir, home);
  mkdirSync(path.join(home, '.ssh'));
  const h2 = ssh.hosts[1];
  writeFileSync(path.join(home, '.ssh/config'), `Host web2\n  HostName 127.0.0.1\n  Port ${h2.port}\n  User ${ssh.user}\n  IdentityFile ${ssh.privateKey}\n`);
  writeFileSync(path.join(dir, '.env'), 'LOCAL=envfile-secret-6\n');
  writeConfig(dir, {
    app: 'cfgapp',
    keepReleases: 3,
    env: { API_KEY: 'envsecret-top-1' },
    envFile: '.env',
    reload: 'curl -fsS "https://hooks.example.com/reload?key=reload-key-7"',
    ssh: { knownHosts: ssh.knownHosts, passphrase: 'passphrase-5' },
    healthcheck: { url: 'http://admin:pw-in-url-3@127.0.0.1:8080/healthz?token=token-in-query-4', retries: 2 },
    stages: {
      test: {
        keepReleases: 7,
        shared: { files: ['.env'], upload: { '.env': '.env.prod' } },
        hosts: [
          { name: 'one', host: `${ssh.user}@127.0.0.1:${ssh.hosts[0].port}`, deployTo: '/srv/one', env: { DB_PASSWORD: 'envsecret-host-2' }, healthcheck: { retries: 9 } },
          'web2',
        ],
      },
    },
  });
  for (const json of [false, true]) {
    const r = await ship(['config', 'test', ...(json ? ['--json'] : [])], { cwd: dir, env: { HOME: home } });
    assert.is(r.code, 0, r.stderr);
    for (const s of SECRETS) assert.not.match(r.stdout + r.stderr, s, `${s} leaked (${json ? 'json' : 'text'})`);
    if (!json) {
      assert.match(r.stdout, /^---\nstage: test\nname: one\n/);
      assert.match(r.stdout, /\n {2}API_KEY: <redacted>\n {2}DB_PASSWORD: <redacted>\n/);
      assert.match(r.stdout, /url: "http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:8080\/healthz\?token=\*\*\*"/);
      continue;
    }
    const [one, web2] = r.events.filter((e) => e.name);
    assert.is(one.keepReleases, 7, 'the stage overrides the top level');
    assert.is(one.deployTo, '/srv/one', 'the host object overrides the default');
    assert.is(web2.deployTo, '/var/www/cfgapp', 'the default');
    assert.equal(one.env, { API_KEY: '<redacted>', DB_PASSWORD: '<redacted>' });
    assert.equal(web2.env, { API_KEY: '<redacted>' });
    assert.is(one.healthcheck.retries, 9, 'host healthcheck merged over the top level');
    assert.is(web2.healthcheck.retries, 2);
    assert.is(one.envFile, '.env');
    assert.is(one.connection.passphrase, '<redacted>');
    assert.equal(one.shared.upload, { '.env': { from: path.join(dir, '.env.prod'), secret: true } });
    assert.equal(
      [web2.connection.host, web2.connection.port, web2.connection.user, web2.connection.privateKey],
      ['127.0.0.1', h2.port, ssh.user, ssh.privateKey],
    );
    assert.equal(web2.connection.sources, { host: '~/.ssh/config', port: '~/.ssh/config', user: '~/.ssh/config', privateKey: '~/.ssh/config', proxyJump: 'default' });
    assert.equal([one.connection.port, one.connection.sources.port], [ssh.hosts[0].port, 'config']);
    assert.is(r.events.at(-1)!.type, 'summary');
  }
});

test('config: a config problem is exit 2, with the key path', async () => {
  const dir = tmpDir('ship-cfg-');
  dirs.push(dir);
  writeConfig(dir, { app: 'x', stages: { test: { hosts: ['local'], keepReleases: 0, shared: { upload: { '../up': 'a' } } } } });
  const r = await ship(['config', 'test'], { cwd: dir });
  assert.is(r.code, 2);
  assert.match(r.stderr, /stages\.test\.keepReleases/);
  assert.match(r.stderr, /stages\.test\.shared\.upload/);
});

test.run();

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SshTransport } from '../../src/transport/ssh.js';
import { sharedSshHosts } from '../harness/sshd.js';
import { transportContract } from './transport.js';

transportContract('ssh', async () => {
  const ssh = await sharedSshHosts();
  const h = ssh.hosts[0];
  const t = new SshTransport({
    name: h.name,
    host: h.host,
    port: h.port,
    user: h.user,
    privateKey: ssh.privateKey,
    agent: false,
    knownHosts: [ssh.knownHosts],
    strictHostKeyChecking: 'yes',
  });
  await t.connect();
  const root = `${h.deployRoot}/contract-${randomBytes(4).toString('hex')}`;
  await t.mkdirp(root);
  const home = execFileSync('sh', ['-c', `getent passwd ${h.user} | cut -d: -f6`], { encoding: 'utf8' }).trim();
  return {
    t,
    root,
    home,
    cleanup: async () => {
      await t.remove(root);
      await t.close();
    },
  };
}).run();

// ---- SSH only: host keys, credentials, reachability, SFTP specifics ----

import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectError, ShipError } from '../../src/errors.js';
import { raw, sh } from '../../src/shell.js';
import { RemoteFileError, type SshTransportOptions } from '../../src/transport/ssh.js';
import { FileExistsError } from '../../src/transport/types.js';
import { freePort, type SshHost, type SshHosts } from '../harness/sshd.js';

const S = suite<{ ssh: SshHosts; tmp: string; unknown: SshHost; changed: SshHost }>('ssh transport: connections and host keys', {} as never);

S.before(async (ctx) => {
  ctx.ssh = await sharedSshHosts();
  ctx.tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-sshonly-'));
  ctx.unknown = await ctx.ssh.startExtra('unknown', { knownHosts: 'absent' });
  ctx.changed = await ctx.ssh.startExtra('changed', { knownHosts: 'other-key' });
});
S.after((ctx) => {
  rmSync(ctx.tmp, { recursive: true, force: true });
});

function opts(ctx: { ssh: SshHosts }, h: SshHost, extra: Partial<SshTransportOptions> = {}): SshTransportOptions {
  return {
    name: h.name,
    host: h.host,
    port: h.port,
    user: h.user,
    privateKey: ctx.ssh.privateKey,
    agent: false,
    knownHosts: [ctx.ssh.knownHosts],
    strictHostKeyChecking: 'yes',
    ...extra,
  };
}

async function connectError(o: SshTransportOptions): Promise<ConnectError> {
  const t = new SshTransport(o);
  try {
    await t.connect();
  } catch (e) {
    await t.close();
    assert.instance(e, ConnectError);
    assert.is((e as ConnectError).exitCode, 4);
    return e as ConnectError;
  }
  await t.close();
  throw new Error('connect() succeeded but should have failed');
}

function fp(pub: string): string {
  const r = spawnSync('ssh-keygen', ['-lf', '-'], { input: pub, encoding: 'utf8' });
  return r.stdout.split(/\s+/)[1];
}

S('unknown host key: refused (exit 4), names host, files, fingerprint; nothing is written', async (ctx) => {
  const before = readdirSync(ctx.unknown.deployRoot);
  const khBefore = readFileSync(ctx.ssh.knownHosts, 'utf8');
  const e = await connectError(opts(ctx, ctx.unknown));
  assert.match(e.message, 'unknown');
  assert.match(e.message, `[127.0.0.1]:${ctx.unknown.port}`);
  assert.match(e.message, ctx.ssh.knownHosts);
  assert.match(e.message, fp(ctx.unknown.hostKeyPub));
  assert.match(e.hint ?? '', `ssh-keyscan -p ${ctx.unknown.port} 127.0.0.1`);
  assert.is(e.host, 'unknown');
  assert.equal(readdirSync(ctx.unknown.deployRoot), before);
  assert.is(readFileSync(ctx.ssh.knownHosts, 'utf8'), khBefore, 'known_hosts untouched');
});

S('changed host key: refused in every mode, known_hosts untouched', async (ctx) => {
  const kh = readFileSync(ctx.ssh.knownHosts, 'utf8');
  for (const mode of ['yes', 'accept-new', 'no'] as const) {
    const warnings: string[] = [];
    const e = await connectError(opts(ctx, ctx.changed, { strictHostKeyChecking: mode, onWarning: (m) => warnings.push(m) }));
    assert.match(e.message, 'HOST KEY CHANGED');
    assert.match(e.message, fp(ctx.changed.hostKeyPub));
    assert.match(e.message, ctx.ssh.knownHosts);
  }
  assert.is(readFileSync(ctx.ssh.knownHosts, 'utf8'), kh);
  assert.equal(readdirSync(ctx.changed.deployRoot), []);
});

S('revoked host key: refused even though it is also listed', async (ctx) => {
  const f = path.join(ctx.tmp, 'kh-revoked');
  writeFileSync(f, readFileSync(ctx.ssh.knownHosts, 'utf8') + `@revoked * ${ctx.ssh.hosts[1].hostKeyPub}\n`);
  const e = await connectError(opts(ctx, ctx.ssh.hosts[1], { knownHosts: [f] }));
  assert.match(e.message, 'REVOKED');
});

S('accept-new: adds the unknown key to the first file (created 0600), then connects; strict yes accepts it after', async (ctx) => {
  const f = path.join(ctx.tmp, 'fresh', '.ssh', 'known_hosts');
  const warnings: string[] = [];
  const t = new SshTransport(opts(ctx, ctx.unknown, { knownHosts: [f, ctx.ssh.knownHosts], strictHostKeyChecking: 'accept-new', onWarning: (m) => warnings.push(m) }));
  await t.connect();
  assert.is((await t.exec(sh`echo ok`)).stdout, 'ok\n');
  await t.close();
  assert.is(readFileSync(f, 'utf8'), `[127.0.0.1]:${ctx.unknown.port} ${ctx.unknown.hostKeyPub}\n`);
  assert.is(statSync(f).mode & 0o777, 0o600);
  assert.is(statSync(path.dirname(f)).mode & 0o777, 0o700);
  assert.ok(warnings.some((w) => w.includes('added host key')));
  const t2 = new SshTransport(opts(ctx, ctx.unknown, { knownHosts: [f] }));
  await t2.connect();
  await t2.close();
});

S('no: an unknown key connects with a warning, and nothing is added', async (ctx) => {
  const f = path.join(ctx.tmp, 'kh-no');
  copyFileSync(ctx.ssh.knownHosts, f);
  const warnings: string[] = [];
  const t = new SshTransport(opts(ctx, ctx.unknown, { knownHosts: [f], strictHostKeyChecking: 'no', onWarning: (m) => warnings.push(m) }));
  await t.connect();
  await t.close();
  assert.ok(warnings.some((w) => w.includes('not in known_hosts')), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('strictHostKeyChecking is "no"')));
  assert.is(readFileSync(f, 'utf8'), readFileSync(ctx.ssh.knownHosts, 'utf8'));
});

S('hashed known_hosts entries (ssh-keygen -H) verify', async (ctx) => {
  const f = path.join(ctx.tmp, 'kh-hashed');
  copyFileSync(ctx.ssh.knownHosts, f);
  spawnSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
  assert.not.match(readFileSync(f, 'utf8'), '127.0.0.1');
  const t = new SshTransport(opts(ctx, ctx.ssh.hosts[2], { knownHosts: [f] }));
  await t.connect();
  assert.is((await t.exec(sh`whoami`)).stdout.trim(), ctx.ssh.user);
  await t.close();
});

S('wrong user, wrong key, bad passphrase: exit 4, no secrets in the message', async (ctx) => {
  const h = ctx.ssh.hosts[0];
  const e1 = await connectError(opts(ctx, h, { user: 'nobody-here' }));
  assert.match(e1.message, 'authentication failed');
  assert.match(e1.message, 'nobody-here@');
  const other = path.join(ctx.tmp, 'other_key');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const e2 = await connectError(opts(ctx, h, { privateKey: other }));
  assert.match(e2.message, 'authentication failed');
  assert.match(e2.message, other);
  const keyText = readFileSync(other, 'utf8');
  assert.not.ok(e2.message.includes(keyText.split('\n')[1]));
  const locked = path.join(ctx.tmp, 'locked_key');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right-passphrase', '-f', locked]);
  const e3 = await connectError(opts(ctx, h, { privateKey: locked, passphrase: 'Wrong-Secret-123' }));
  assert.match(e3.message, 'passphrase');
  assert.not.match(`${e3.message} ${e3.hint}`, 'Wrong-Secret-123');
  const e4 = await connectError(opts(ctx, h, { privateKey: path.join(ctx.tmp, 'no-such-key') }));
  assert.match(e4.message, 'no-such-key');
});

S('closed port and unresolvable name: exit 4, quickly', async (ctx) => {
  const port = await freePort();
  const t0 = Date.now();
  const e = await connectError(opts(ctx, { ...ctx.ssh.hosts[0], port }));
  assert.ok(Date.now() - t0 < 2000);
  assert.match(e.message, `connection refused at 127.0.0.1:${port}`);
  const e2 = await connectError(opts(ctx, { ...ctx.ssh.hosts[0], host: 'no-such-host.invalid' }));
  assert.match(e2.message, 'no-such-host.invalid');
});

S('ssh-agent: used when given, alongside a key that does not work', async (ctx) => {
  const sock = path.join(ctx.tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const add = spawnSync('ssh-add', [ctx.ssh.privateKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
    assert.is(add.status, 0, add.stderr);
    const other = path.join(ctx.tmp, 'agent_other_key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const t = new SshTransport(opts(ctx, ctx.ssh.hosts[0], { privateKey: other, agent: sock }));
    await t.connect();
    assert.is((await t.exec(sh`whoami`)).stdout.trim(), ctx.ssh.user);
    await t.close();
  } finally {
    agent.kill('SIGTERM');
  }
});

S('ProxyJump: through one host to another; a refused jump host fails the connection', async (ctx) => {
  const [h1, h2] = ctx.ssh.hosts;
  const t = new SshTransport(opts(ctx, h2, { jump: opts(ctx, h1) }));
  await t.connect();
  await t.writeFile(`${h2.deployRoot}/via-jump`, 'x');
  assert.is(readFileSync(`${h2.deployRoot}/via-jump`, 'utf8'), 'x');
  await t.remove(`${h2.deployRoot}/via-jump`);
  await t.close();
  const e = await connectError(opts(ctx, h2, { jump: opts(ctx, ctx.unknown) }));
  assert.match(e.message, 'unknown');
  assert.is(e.host, 'unknown');
});

S('SFTP errors name the host and path; permission denied is not FileExistsError', async (ctx) => {
  const t = new SshTransport(opts(ctx, ctx.ssh.hosts[0]));
  await t.connect();
  try {
    for (const op of [() => t.writeFile('/root/ship-denied', 'x'), () => t.writeFile('/root/ship-denied', 'x', { exclusive: true }), () => t.mkdirp('/root/ship-denied/a')]) {
      let err: unknown;
      try {
        await op();
      } catch (e) {
        err = e;
      }
      assert.instance(err, ShipError);
      assert.not.instance(err, FileExistsError);
      assert.match((err as Error).message, 'host1');
      assert.match((err as Error).message, '/root/ship-denied');
    }
    let err: unknown;
    try {
      await t.writeFile('/root/ship-denied', 'x');
    } catch (e) {
      err = e;
    }
    assert.instance(err, RemoteFileError);
    assert.is((err as RemoteFileError).code, 'EACCES');
    assert.not.ok(existsSync('/root/ship-denied'));
  } finally {
    await t.close();
  }
});

S('rename without posix-rename falls back to mv -T; when that fails too, a clear refusal', async (ctx) => {
  class NoPosixRename extends SshTransport {
    protected override hasPosixRename(): boolean {
      return false;
    }
  }
  const h = ctx.ssh.hosts[0];
  const t = new NoPosixRename(opts(ctx, h));
  await t.connect();
  const d = `${h.deployRoot}/fallback`;
  try {
    await t.mkdirp(`${d}/releases/a`);
    await t.mkdirp(`${d}/releases/b`);
    await t.symlink('releases/a', `${d}/current`);
    await t.symlink('releases/b', `${d}/tmp-link`);
    await t.rename(`${d}/tmp-link`, `${d}/current`);
    assert.is(await t.readlink(`${d}/current`), 'releases/b');
    assert.ok(statSync(`${d}/releases/a`).isDirectory(), 'mv -T never moves into the old target');
    assert.equal(readdirSync(`${d}/releases/a`), []);
    let err: unknown;
    try {
      await t.rename(`${d}/missing`, `${d}/current`);
    } catch (e) {
      err = e;
    }
    assert.instance(err, ShipError);
    assert.match((err as Error).message, 'posix-rename@openssh.com');
    assert.is(await t.readlink(`${d}/current`), 'releases/b');
  } finally {
    await t.remove(d);
    await t.close();
  }
});

S('exec timeout kills the remote command; use after close is a ConnectError', async (ctx) => {
  const t = new SshTransport(opts(ctx, ctx.ssh.hosts[0]));
  await t.connect();
  const marker = `ship-timeout-${process.pid}-${Date.now()}`;
  const r = await t.exec(raw(`sh -c 'sleep 37; echo ${marker}' ${marker}`), { timeoutMs: 200 });
  assert.is(r.code, null);
  await new Promise((res) => setTimeout(res, 200));
  const ps = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  assert.is(ps.stdout.trim(), '', 'the remote command is gone');
  await t.close();
  let err: unknown;
  try {
    await t.exec(sh`true`);
  } catch (e) {
    err = e;
  }
  assert.instance(err, ConnectError);
});

S.run();

const K = suite('ssh transport: a dead connection errors within seconds');
K('keepalive: a frozen server fails the next command with ConnectError, no hang', async () => {
  const ssh = await sharedSshHosts();
  const h = await ssh.startExtra('frozen', { knownHosts: 'listed' });
  const t = new SshTransport({
    name: h.name,
    host: h.host,
    port: h.port,
    user: h.user,
    privateKey: ssh.privateKey,
    agent: false,
    knownHosts: [ssh.knownHosts],
    keepaliveIntervalMs: 200,
  });
  await t.connect();
  // every process serving this connection: the descendants of this host's sshd
  const descendants = (pid: number): number[] => {
    const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  };
  const frozen = descendants(h.pid);
  assert.ok(frozen.length > 0);
  for (const p of frozen) process.kill(p, 'SIGSTOP');
  try {
    const t0 = Date.now();
    let err: unknown;
    try {
      await t.exec(sh`sleep 10`);
    } catch (e) {
      err = e;
    }
    assert.instance(err, ConnectError);
    assert.match((err as Error).message, 'frozen');
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    let err2: unknown;
    try {
      await t.readFile('/etc/hostname');
    } catch (e) {
      err2 = e;
    }
    assert.instance(err2, ConnectError);
  } finally {
    for (const p of frozen) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await t.close();
  }
});
K.run();

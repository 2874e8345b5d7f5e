/**
 * ship ssh over real sshd hosts, through a real terminal: util-linux `script` gives the
 * ship process a PTY (as a user's terminal would), and ship opens one on the host.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SshHosts } from '../harness/sshd.js';
import { ROOT, rmrf, ship } from '../harness/ship.js';
import { project, sharedSshHosts, sshHosts, writeBuild, writeOwned } from '../harness/stage.js';
import { quote } from '../../src/shell.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

/** The ship command line, as the harness runs it. */
function shipWords(args: string[]): string[] {
  const bin = process.env.SHIP_TEST_BIN;
  const head = bin ? [process.execPath, path.resolve(ROOT, bin)] : [process.execPath, '--import', import.meta.resolve('tsx'), path.join(ROOT, 'test/harness/cli-entry.ts')];
  return [...head, ...args];
}

/** Runs `ship <args>` on a fresh PTY (script -qec), with `input` typed into it; returns the exit code and what the terminal showed. */
function onTerminal(args: string[], cwd: string, input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const line = shipWords(args).map((w) => quote(w)).join(' ');
    const child = spawn('script', ['-qec', line, '/dev/null'], { cwd, env: { ...process.env, CI: 'true', FORCE_COLOR: '0', TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

test('ship ssh <stage> <host> -- cmd runs on a remote TTY in current, with env; the exit code is the remote one', async () => {
  const p = project(ssh, 'sshcmd', { env: { GREETING: 'hello there' } });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const h2 = ssh.hosts[1];
  const r = await onTerminal(['ssh', 'test', 'host2', '--', 'echo "tty=$(tty) sshtty=$SSH_TTY"; echo "pwd=$(pwd)"; echo "g=$GREETING h=$SHIP_HOST v=$(cat VERSION)"; exit 7'], p.dir);
  assert.is(r.code, 7, r.out);
  const m = /tty=(\/dev\/pts\/\d+) sshtty=(\/dev\/pts\/\d+)/.exec(r.out);
  assert.ok(m, r.out);
  assert.is(m![1], m![2], 'the remote command runs on the PTY sshd allocated');
  assert.match(r.out, `pwd=${path.join(h2.deployRoot, 'sshcmd/current')}`);
  assert.match(r.out, 'g=hello there h=host2 v=v1');

  // The interactive shell: lines typed on the terminal reach the remote login shell.
  const i = await onTerminal(['ssh', 'test', 'host3'], p.dir, 'echo "in=$PWD on=$SHIP_HOST"\ntest -t 0 && echo "stdin-is-a-tty"\nexit 5\n');
  assert.is(i.code, 5, i.out);
  assert.match(i.out, `in=${path.join(ssh.hosts[2].deployRoot, 'sshcmd/current')} on=host3`);
  assert.match(i.out, /(^|[ \n])stdin-is-a-tty\r/m, JSON.stringify(i.out)); // the output, not the echo of the typed line
});

/** `ship <args>` on a PTY, kept open: type into it, wait for what it shows, then its exit. */
function session(args: string[], cwd: string) {
  const line = shipWords(args).map((w) => quote(w)).join(' ');
  const child = spawn('script', ['-qec', line, '/dev/null'], { cwd, env: { ...process.env, CI: 'true', FORCE_COLOR: '0', TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d;
    waiters.forEach((w) => w());
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      waiters.forEach((w) => w());
      resolve(code);
    });
  });
  return {
    type: (text: string) => child.stdin.write(text),
    /** Resolves once the terminal has shown `text` (rejects when ship exits first). */
    waitFor: (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes(text)) resolve();
          else if (child.exitCode !== null) reject(new Error(`ship exited before showing ${text}:\n${out}`));
        };
        waiters.push(check);
        check();
      }),
    end: async () => {
      child.stdin.end();
      return { code: await closed, out };
    },
  };
}

/** Every process's argv on this machine (the harness's hosts run here too), one per line. */
function allCommandLines(): string {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      /* gone meanwhile */
    }
  }
  return lines.join('\n');
}

test('ship ssh: env and envFile values reach the session and no command line, on the host or the deployer, while it is open', async () => {
  const sub = `sshsecret-${randomBytes(3).toString('hex')}`;
  const tag = randomBytes(5).toString('hex');
  const envSecret = `sshenv-${tag}`;
  const fileSecret = `sshfile-${tag}`;
  // A value longer than a terminal's line (4 KiB in canonical mode), with a CR and a ^C byte: it arrives byte for byte.
  const long = `${'x'.repeat(9000)}\r\x03-end`;
  const p = project(ssh, sub, { hosts: sshHosts(ssh, sub, 1), env: { SSH_SECRET: envSecret, LONG: long }, envFile: '.env', shared: { files: ['.env'] } });
  dirs.push(p.dir);
  writeOwned(ssh, path.join(ssh.hosts[0].deployRoot, sub), { 'shared/.env': `FILE_SECRET=${fileSecret}\n` });
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const got = `got:${envSecret}:${fileSecret}`;

  // A command that stays open until a line is typed.
  const cmd = session(['ssh', 'test', 'host1', '--', 'echo "ready-$((6*7))"; read line; echo "got:$SSH_SECRET:$FILE_SECRET"; exit 6'], p.dir);
  await cmd.waitFor('ready-42');
  let argv = allCommandLines();
  assert.not.ok(argv.includes(envSecret), 'an env value is on a command line while `ship ssh -- cmd` runs');
  assert.not.ok(argv.includes(fileSecret), 'an envFile value is on a command line while `ship ssh -- cmd` runs');
  cmd.type('go\n');
  let r = await cmd.end();
  assert.is(r.code, 6, r.out);
  assert.ok(r.out.includes(got), r.out);

  // The interactive login shell.
  const shell = session(['ssh', 'test', 'host1'], p.dir);
  shell.type('echo "ready-$((6*7))"\n');
  await shell.waitFor('ready-42');
  argv = allCommandLines();
  assert.not.ok(argv.includes(envSecret), 'an env value is on a command line during the interactive session');
  assert.not.ok(argv.includes(fileSecret), 'an envFile value is on a command line during the interactive session');
  shell.type('test -t 0 && echo "tty-$((6*7))"; echo "got:$SSH_SECRET:$FILE_SECRET"; echo "long=$(printf %s "$LONG" | md5sum | cut -c1-12)"; exit 5\n');
  r = await shell.end();
  assert.is(r.code, 5, r.out);
  assert.ok(r.out.includes(got), r.out);
  assert.ok(r.out.includes('tty-42'), `the login shell's stdin is the terminal: ${r.out}`);
  const md5 = createHash('md5').update(long).digest('hex').slice(0, 12);
  assert.ok(r.out.includes(`long=${md5}`), `a 9 KB value with CR and ^C arrives intact (long=${md5}): ${r.out.slice(-300)}`);
  assert.not.match(r.out, 'export ', 'the script sent on the terminal is never shown');
});

test('ship ssh with several hosts and none named lists them and exits 2; an unknown host is exit 2', async () => {
  const p = project(ssh, 'sshmany');
  dirs.push(p.dir);
  let r = await ship(['ssh', 'test'], { cwd: p.dir });
  assert.is(r.code, 2, r.stderr);
  assert.equal(r.stdout.trim().split('\n').slice(0, 3), ['host1', 'host2', 'host3']);
  assert.match(r.stderr, /name one/);
  r = await ship(['ssh', 'test', 'nohost'], { cwd: p.dir });
  assert.is(r.code, 2);
  assert.match(r.stderr, /unknown host.*nohost/);
});

test('ship ssh on a local host runs the command on this machine, in current', async () => {
  const p = project(undefined, 'sshlocal', { deployTo: './.ship/demo' });
  dirs.push(p.dir);
  writeBuild(p.build, 'v1');
  assert.is((await ship(['deploy', 'test'], { cwd: p.dir })).code, 0);
  const r = await onTerminal(['ssh', 'test', '--', 'test -t 0 && echo "pwd=$(pwd)"; exit 4'], p.dir);
  assert.is(r.code, 4, r.out);
  assert.match(r.out, `pwd=${path.join(p.dir, '.ship/demo/current')}`);
});

test.run();

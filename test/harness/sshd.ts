/**
 * Real OpenSSH servers for the contract and integration tests.
 *
 *   const ssh = await sharedSshHosts();          // 3 hosts, started once per test process
 *   ssh.hosts[0] -> { name, host: '127.0.0.1', port, user, deployRoot, hostKeyPub }
 *
 * Each host is its own `sshd -D -e -f <config>` on 127.0.0.1 at a free high port, with
 * its own host key, key-only auth for an unprivileged user (`shiptest`), and a deploy
 * root owned by that user. A known_hosts file lists every host. Everything lives in one
 * temp dir; stop() (and process exit, SIGINT, SIGTERM) kills the servers and removes it.
 * SHIP_SSHD_LOGLEVEL=DEBUG3 makes the servers verbose (each host's sshd.log in its dir).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, Reaper } from './reaper.js';

export const SSHD = '/usr/sbin/sshd';
export const TEST_USER = 'shiptest';

export interface SshHost {
  name: string;
  host: string;
  port: number;
  user: string;
  /** A directory on the host owned by the login user, empty at start. */
  deployRoot: string;
  /** `ssh-ed25519 AAAA…` of the host key. */
  hostKeyPub: string;
  /** pid of this host's listening sshd (its sessions are its descendants). */
  pid: number;
}

export interface ExtraHostOptions {
  /** What the shared known_hosts file says about this host: nothing, or another key. */
  knownHosts: 'absent' | 'other-key' | 'listed';
  /** `AllowTcpForwarding` of this server (default true; false to test the curl fallback). */
  allowTcpForwarding?: boolean;
  /** This server's LogLevel (default SHIP_SSHD_LOGLEVEL or ERROR); its log is <tmp>/hosts/<name>/sshd.log. */
  logLevel?: string;
  /** `PermitOpen` of this server (e.g. '127.0.0.1:2222': the only place it forwards to). */
  permitOpen?: string;
}

export interface SshHosts {
  hosts: SshHost[];
  /** Path of the client private key (ed25519, no passphrase). */
  privateKey: string;
  /** Path of a known_hosts file listing every host by `[127.0.0.1]:port`. */
  knownHosts: string;
  user: string;
  uid: number;
  gid: number;
  tmp: string;
  /** Starts one more server (stopped with the rest). */
  startExtra(name: string, opts: ExtraHostOptions): Promise<SshHost>;
  stop(): Promise<void>;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export { freePort };

function ensureSshd(): void {
  if (existsSync(SSHD)) return;
  const script = path.join(root, 'scripts/ensure-system.sh');
  if (existsSync(script)) spawnSync('bash', [script], { stdio: 'inherit' });
  if (!existsSync(SSHD)) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'openssh-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!existsSync(SSHD)) throw new Error(`sshd harness: ${SSHD} is missing and could not be installed`);
}

function ensureUser(user: string): { uid: number; gid: number } {
  const id = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  if (id.status !== 0) {
    const r = spawnSync('useradd', ['-m', '-s', '/bin/sh', user], { encoding: 'utf8' });
    if (r.status !== 0 && !/already exists/.test(r.stderr)) throw new Error(`sshd harness: useradd ${user}: ${r.stderr}`);
  }
  // With UsePAM no, sshd refuses a locked account ("!" password): '*' is "no password", not locked.
  spawnSync('usermod', ['-p', '*', user]);
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  const home = execFileSync('sh', ['-c', `getent passwd ${user} | cut -d: -f6`], { encoding: 'utf8' }).trim();
  if (home && !existsSync(home)) {
    mkdirSync(home, { recursive: true });
    chownSync(home, uid, gid);
  }
  return { uid, gid };
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  return readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Waits until the port answers with an SSH-2.0 banner. */
export async function waitForBanner(port: number, timeoutMs = 10_000, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null) throw new Error(`sshd on port ${port} exited with ${proc.exitCode}`);
    const banner = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      let data = '';
      const done = (v: string) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1000, () => done(data));
      s.on('data', (d) => {
        data += d.toString('latin1');
        if (data.includes('\n')) done(data);
      });
      s.on('error', () => done(''));
      s.on('close', () => done(data));
    });
    if (banner.startsWith('SSH-2.0')) return;
    if (Date.now() > deadline) throw new Error(`sshd on port ${port} did not answer with an SSH-2.0 banner (got ${JSON.stringify(banner)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reaper = new Reaper();
const { live, dirs: tmpDirs } = reaper;

export async function startSshHosts(n = 3): Promise<SshHosts> {
  ensureSshd();
  const { uid, gid } = ensureUser(TEST_USER);
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-sshd-'));
  tmpDirs.add(tmp);
  chmodSync(tmp, 0o755); // the login user must reach its deploy root and authorized_keys
  const privateKey = path.join(tmp, 'client_ed25519');
  const clientPub = keygen(privateKey, 'ship-test-client');
  const authorizedKeys = path.join(tmp, 'authorized_keys');
  writeFileSync(authorizedKeys, clientPub + '\n', { mode: 0o644 });
  const knownHosts = path.join(tmp, 'known_hosts');
  writeFileSync(knownHosts, '', { mode: 0o600 });
  const sftpServer = existsSync('/usr/lib/openssh/sftp-server') ? '/usr/lib/openssh/sftp-server' : 'internal-sftp';
  const procs: ChildProcess[] = [];

  async function startOne(name: string, { knownHosts: knownHostsMode, allowTcpForwarding = true, logLevel, permitOpen }: ExtraHostOptions): Promise<SshHost> {
    const dir = path.join(tmp, 'hosts', name);
    if (existsSync(dir)) throw new Error(`sshd harness: a host named ${name} exists already`);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    const hostKeyPub = keygen(hostKey, name);
    const deployRoot = path.join(dir, 'deploy');
    mkdirSync(deployRoot, { mode: 0o755 });
    chownSync(deployRoot, uid, gid);
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const config = path.join(dir, 'sshd_config');
      writeFileSync(
        config,
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${hostKey}`,
          'PidFile none',
          'UsePAM no',
          'StrictModes no',
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin no',
          `AllowUsers ${TEST_USER}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          `AllowTcpForwarding ${allowTcpForwarding ? 'yes' : 'no'}`,
          'MaxSessions 100',
          'MaxStartups 100:30:200',
          `LogLevel ${logLevel ?? process.env.SHIP_SSHD_LOGLEVEL ?? 'ERROR'}`,
          ...(permitOpen ? [`PermitOpen ${permitOpen}`] : []),
          `Subsystem sftp ${sftpServer}`,
          '',
        ].join('\n'),
      );
      const log = path.join(dir, 'sshd.log');
      const proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.on('data', (d: Buffer) => appendFileSync(log, d));
      proc.unref();
      (proc.stderr as unknown as { unref?: () => void }).unref?.();
      live.add(proc);
      procs.push(proc);
      proc.on('exit', () => live.delete(proc));
      try {
        await waitForBanner(port, 10_000, proc);
      } catch (e) {
        proc.kill('SIGTERM');
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        if (attempt < 3 && /Address already in use|exited/.test(`${text} ${(e as Error).message}`)) continue;
        throw new Error(`sshd harness: ${name}: ${(e as Error).message}\n${text}`);
      }
      if (knownHostsMode === 'listed') appendFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
      if (knownHostsMode === 'other-key') {
        const other = keygen(path.join(dir, 'other_host_key'), `${name}-other`);
        appendFileSync(knownHosts, `[127.0.0.1]:${port} ${other}\n`);
      }
      return { name, host: '127.0.0.1', port, user: TEST_USER, deployRoot, hostKeyPub, pid: proc.pid! };
    }
  }

  const hosts = await Promise.all(Array.from({ length: n }, (_, i) => startOne(`host${i + 1}`, { knownHosts: 'listed' })));
  let stopped = false;
  return {
    hosts,
    privateKey,
    knownHosts,
    user: TEST_USER,
    uid,
    gid,
    tmp,
    startExtra: (name, opts) => startOne(name, opts),
    async stop() {
      if (stopped) return;
      stopped = true;
      // The servers' handles are unref'd (they must not keep a test process alive), so
      // hold the event loop open while waiting for them to exit.
      const keepAlive = setInterval(() => {}, 1000);
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGTERM');
            }),
        ),
      );
      clearInterval(keepAlive);
      rmSync(tmp, { recursive: true, force: true });
      tmpDirs.delete(tmp);
    },
  };
}

let shared: Promise<SshHosts> | undefined;

/** One set of servers for the whole test process (uvu runs a group in one process). */
export function sharedSshHosts(): Promise<SshHosts> {
  if (!shared) shared = startSshHosts(3);
  return shared;
}

/**
 * The SSH transport: one connection per host (ssh2 via ssh2-sftp-client) carrying the
 * SFTP session for file operations and `exec` / `direct-tcpip` channels.
 *
 * Host keys are checked during key exchange (ssh2 `hostVerifier`), before any
 * credential is offered, against OpenSSH known_hosts files (see known-hosts.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { ConnectError, ShipError } from '../errors.js';
import { quote, sh, type Shell } from '../shell.js';
import { BOOTSTRAP, framed, resolveEnvFile, wrapCommand } from './command.js';
import { addKnownHost, certAuthorityFor, checkHostKey, fingerprint, hostString, keyTypeOf, knownKeyTypes } from './known-hosts.js';
import { FileExistsError, type ExecOptions, type ExecResult, type FileStat, type Transport } from './types.js';

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no';

export interface SshTransportOptions {
  /** The host's name as output shows it. */
  name: string;
  /** Address to connect to (after ~/.ssh/config resolution). */
  host: string;
  /** Default 22. */
  port?: number;
  user: string;
  /** Path of a private key. Default: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exists. */
  privateKey?: string;
  passphrase?: string;
  /** true (default): $SSH_AUTH_SOCK when set; a string: that agent socket; false: no agent. */
  agent?: boolean | string;
  /** known_hosts files to read; the first one receives accept-new entries. Default ~/.ssh/known_hosts. */
  knownHosts?: string[];
  /**
   * System-wide known_hosts files, read in every mode (as OpenSSH reads GlobalKnownHostsFile):
   * consulted when the user's files do not know the host; an `@revoked` line in them always counts.
   */
  globalKnownHosts?: string[];
  /** Default 'yes'. A changed or revoked key is refused in every mode. */
  strictHostKeyChecking?: StrictHostKeyChecking;
  /** Default true: keepalive every 5 s, give up after 3 unanswered (a dead network errors in ~15 s). */
  keepalive?: boolean;
  /** Keepalive interval in ms when keepalive is on (default 5000; 3 unanswered end the connection). */
  keepaliveIntervalMs?: number;
  /** Handshake + authentication timeout in ms (default 20000). */
  readyTimeout?: number;
  onWarning?: (msg: string) => void;
  /** ProxyJump: connect through this host first (its own options, host key checks and all). */
  jump?: SshTransportOptions;
  /** An already open stream to the server (instead of a TCP connection). */
  sock?: Duplex;
}

/** A file operation over SFTP failed; names the host and the path. */
export class RemoteFileError extends ShipError {
  /** ENOENT, EACCES, EFAILURE, … (mapped from the SFTP status) */
  readonly code: string;
  constructor(host: string, op: string, p: string, cause: unknown) {
    const { code, text } = describeSftpError(cause);
    super(`${host}: ${op} ${p}: ${text}`, { host, reason: 'file', cause });
    this.code = code;
  }
}

const require = createRequire(import.meta.url);
const { DEFAULT_SERVER_HOST_KEY } = require('ssh2/lib/protocol/constants.js') as { DEFAULT_SERVER_HOST_KEY: string[] };

const SFTP_STATUS: Record<number, [string, string]> = {
  1: ['EOF', 'end of file'],
  2: ['ENOENT', 'no such file or directory'],
  3: ['EACCES', 'permission denied'],
  4: ['EFAILURE', 'failure'],
  5: ['EBADMSG', 'bad message'],
  6: ['ENOCONN', 'no connection'],
  7: ['ECONNLOST', 'connection lost'],
  8: ['EOPNOTSUPP', 'operation not supported'],
};

function describeSftpError(e: unknown): { code: string; text: string } {
  const err = e as { code?: unknown; message?: string };
  if (typeof err?.code === 'number' && SFTP_STATUS[err.code]) {
    const [code, text] = SFTP_STATUS[err.code];
    const msg = err.message && err.message.toLowerCase() !== text ? `${text} (${err.message})` : text;
    return { code, text: msg };
  }
  return { code: typeof err?.code === 'string' ? err.code : 'EFAILURE', text: err?.message ?? String(e) };
}

const NO_SUCH_FILE = 2;

function isMissing(e: unknown): boolean {
  return (e as { code?: unknown })?.code === NO_SUCH_FILE;
}

/** Server host key algorithms with the types known for this host first (as OpenSSH orders them). */
export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const first: string[] = [];
  for (const t of knownTypes) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algs) if (DEFAULT_SERVER_HOST_KEY.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...DEFAULT_SERVER_HOST_KEY.filter((a) => !first.includes(a))];
}

/** The terminal modes `openPty` requests while the script is sent on the terminal's input (off: 0). */
const SCRIPT_INPUT_MODES = { ECHO: 0, ICANON: 0, ISIG: 0, IEXTEN: 0, IXON: 0, ICRNL: 0, INLCR: 0, IGNCR: 0 } as const;
/** The script's first line: the terminal as a login expects it again. */
const TERMINAL_ON = sh`stty echo icanon isig iexten ixon icrnl 2>/dev/null`;

/**
 * Sends a `signal` channel request. ssh2's Channel#signal() sends nothing once stdin was
 * ended (the channel is no longer writable), which is always the case here.
 */
function sendSignal(ch: ClientChannel, name: string): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
  try {
    if (c.outgoing && c.outgoing.state !== 'closed') c._client?._protocol?.signal(c.outgoing.id, name);
  } catch {
    /* the server may not support it; closing the channel follows */
  }
}

/** ssh2-sftp-client's underlying ssh2 Client (not in its type definitions). */
function rawClient(c: SftpClient): Client {
  return (c as unknown as { client: Client }).client;
}

export function defaultIdentity(home = os.homedir()): string | undefined {
  for (const f of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = path.join(home, '.ssh', f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly name: string;
  private readonly opts: SshTransportOptions;
  private client?: SftpClient;
  private sftpSession?: SFTPWrapper;
  private jumpTransport?: SshTransport;
  private lost?: Error;
  private connecting?: Promise<void>;
  /** Kill switches of the commands running now (cancel()). */
  private readonly running = new Set<() => void>();

  constructor(opts: SshTransportOptions) {
    this.opts = opts;
    this.name = opts.name;
  }

  private get port(): number {
    return this.opts.port ?? 22;
  }
  private get where(): string {
    return `${this.opts.user}@${this.opts.host}:${this.port}`;
  }
  private get knownHostsFiles(): string[] {
    return this.opts.knownHosts?.length ? this.opts.knownHosts : [path.join(os.homedir(), '.ssh', 'known_hosts')];
  }

  connect(): Promise<void> {
    this.connecting ??= this.doConnect().catch((e) => {
      this.connecting = undefined;
      throw e;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    const o = this.opts;
    const strict = o.strictHostKeyChecking ?? 'yes';
    const files = this.knownHostsFiles;
    const warn = o.onWarning ?? (() => {});

    // Credentials: a key file and/or the agent (ssh2 tries the key, then the agent).
    const keyPath = o.privateKey ?? defaultIdentity();
    let privateKey: Buffer | undefined;
    if (keyPath) {
      try {
        privateKey = readFileSync(keyPath);
      } catch (e) {
        if (o.privateKey) {
          throw new ConnectError(this.name, `cannot read private key ${keyPath}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
            hint: 'check ssh.privateKey',
          });
        }
      }
    }
    const agent = o.agent === false ? undefined : typeof o.agent === 'string' ? o.agent : process.env.SSH_AUTH_SOCK || undefined;
    if (!privateKey && !agent) {
      throw new ConnectError(this.name, `no credentials to log in as ${o.user}: no private key and no ssh-agent`, {
        hint: 'set ssh.privateKey, create ~/.ssh/id_ed25519, or start ssh-agent (SSH_AUTH_SOCK)',
      });
    }

    let sock = o.sock;
    if (o.jump && !sock) {
      this.jumpTransport = new SshTransport({ ...o.jump, onWarning: o.jump.onWarning ?? o.onWarning });
      await this.jumpTransport.connect();
      try {
        sock = await this.jumpTransport.forward(this.port, o.host);
      } catch (e) {
        await this.jumpTransport.close().catch(() => {});
        throw new ConnectError(this.name, `cannot reach ${o.host}:${this.port} through jump host ${o.jump.name}: ${(e as Error).message}`);
      }
    }

    let hostKeyError: ConnectError | undefined;
    const globals = o.globalKnownHosts ?? [];
    const allFiles = [...files, ...globals.filter((g) => !files.includes(g))];
    // accept-new: the key to save once the key exchange completed (the server's signature verified).
    let newKey: { type: string; b64: string; fp: string } | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const type = keyTypeOf(key);
      const b64 = key.toString('base64');
      const fp = fingerprint(key);
      let status = checkHostKey(files, o.host, this.port, type, b64);
      const globalStatus = checkHostKey(globals, o.host, this.port, type, b64);
      if (globalStatus === 'revoked' || status === 'unknown') status = globalStatus === 'revoked' ? 'revoked' : globalStatus;
      const hs = hostString(o.host, this.port);
      const read = allFiles.filter((f) => existsSync(f));
      const readText = read.length ? read.join(', ') : `none (missing: ${files.join(', ')})`;
      if (status === 'ok') return true;
      if (status === 'revoked') {
        hostKeyError = new ConnectError(this.name, `host key of ${hs} (${type} ${fp}) is REVOKED in ${readText}; refusing to connect`, {
          hint: 'the key was marked @revoked: ask the host administrator',
        });
        return false;
      }
      if (status === 'changed') {
        hostKeyError = new ConnectError(
          this.name,
          `HOST KEY CHANGED for ${hs}: the server presented ${type} ${fp}, which is not the key known_hosts holds for it ` +
            `(read: ${readText}). This may be a man-in-the-middle attack; refusing to connect`,
          {
            hint: `if the host was really reinstalled, verify the new fingerprint with its administrator, remove the old entry (ssh-keygen -R '${hs}' -f <file>) and add the new one`,
          },
        );
        return false;
      }
      // unknown
      const ca = strict === 'no' ? undefined : certAuthorityFor(allFiles, o.host, this.port);
      if (ca) {
        hostKeyError = new ConnectError(
          this.name,
          `host ${hs} is vouched for by a @cert-authority line (${ca.file}:${ca.line}), but ship does not verify host certificates; ` +
            `refusing its key ${type} ${fp}, which no known_hosts line lists`,
          { hint: `list the host's own key (verify ${fp} with its administrator) in ~/.ssh/known_hosts or ssh.knownHosts` },
        );
        return false;
      }
      if (strict === 'accept-new') {
        newKey = { type, b64, fp };
        return true;
      }
      if (strict === 'no') {
        warn(`${this.name}: host key of ${hs} (${type} ${fp}) is not in known_hosts; connecting anyway (strictHostKeyChecking: no)`);
        return true;
      }
      hostKeyError = new ConnectError(this.name, `host key of ${hs} is unknown (${type} ${fp}); known_hosts read: ${readText}`, {
        hint:
          `verify the fingerprint ${fp} with the host's administrator, then add it: ` +
          `ssh-keyscan -p ${this.port} ${o.host} >> ~/.ssh/known_hosts (or list a file in ssh.knownHosts; ` +
          `ssh.strictHostKeyChecking: accept-new trusts a new host on first use)`,
      });
      return false;
    };

    const config: ConnectConfig = {
      host: o.host,
      port: this.port,
      username: o.user,
      privateKey,
      passphrase: o.passphrase,
      agent,
      sock: sock as ConnectConfig['sock'],
      readyTimeout: o.readyTimeout ?? 20_000,
      keepaliveInterval: o.keepalive === false ? 0 : (o.keepaliveIntervalMs ?? 5_000),
      keepaliveCountMax: 3,
      hostVerifier,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(allFiles, o.host, this.port)) as never },
    };

    const client = new SftpClient(this.name, {
      error: (err: unknown) => {
        this.lost ??= err instanceof Error ? err : new Error(String(err));
      },
      end: () => {
        this.lost ??= new Error('connection ended');
      },
      close: () => {
        this.lost ??= new Error('connection closed');
      },
    });
    let rawError: (Error & { level?: string; code?: string }) | undefined;
    const onRaw = (e: Error) => {
      rawError ??= e;
    };
    rawClient(client).prependListener('error', onRaw);
    // Saved only once the key exchange is complete, i.e. the server proved it holds the key
    // (its signature verified), as OpenSSH does: before authentication, so a host whose
    // login fails is known next time; never from the hostVerifier callback.
    let saveError: ConnectError | undefined;
    rawClient(client).once('handshake', () => {
      if (!newKey) return;
      const hs = hostString(o.host, this.port);
      try {
        addKnownHost(files[0], o.host, this.port, newKey.type, newKey.b64);
        warn(`${this.name}: added host key of ${hs} (${newKey.type} ${newKey.fp}) to ${files[0]}`);
      } catch (e) {
        saveError = new ConnectError(this.name, `cannot add the host key of ${hs} to ${files[0]}: ${(e as Error).message}`);
      }
    });
    try {
      this.sftpSession = await client.connect(config);
      if (saveError) throw saveError;
    } catch (e) {
      await client.end().catch(() => {});
      await this.jumpTransport?.close().catch(() => {});
      if (hostKeyError) throw hostKeyError;
      if (saveError) throw saveError;
      throw this.connectFailure(rawError ?? (e as Error), keyPath && privateKey ? keyPath : undefined, agent);
    } finally {
      rawClient(client).removeListener('error', onRaw);
    }
    this.client = client;
    this.lost = undefined;
    if (strict === 'no') warn(`${this.name}: strictHostKeyChecking is "no": host keys are not verified`);
  }

  private connectFailure(e: Error & { level?: string; code?: string }, keyPath: string | undefined, agent: string | undefined): ConnectError {
    const code = e.code;
    const msg = e.message ?? String(e);
    if (e.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
      const tried = [keyPath ? `key ${keyPath}` : '', agent ? 'ssh-agent' : ''].filter(Boolean).join(', ');
      return new ConnectError(this.name, `authentication failed for ${this.where} (tried ${tried || 'nothing'})`, {
        hint: `check the user and key (ssh.user, ssh.privateKey); the public key must be in ~${this.opts.user}/.ssh/authorized_keys on the host`,
      });
    }
    if (code === 'ECONNREFUSED') return new ConnectError(this.name, `connection refused at ${this.opts.host}:${this.port}`, { hint: 'is sshd running, and is the port right (ssh.port)?' });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return new ConnectError(this.name, `cannot resolve host name ${this.opts.host}`, { hint: 'check the host name and ~/.ssh/config' });
    if (code === 'ETIMEDOUT' || /timed out/i.test(msg))
      return new ConnectError(this.name, `timed out connecting to ${this.opts.host}:${this.port}`, { hint: 'check the network, firewall and ssh.readyTimeout' });
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new ConnectError(this.name, `${this.opts.host} is unreachable (${code})`);
    if (/passphrase|encrypted/i.test(msg))
      return new ConnectError(this.name, `cannot use private key${keyPath ? ` ${keyPath}` : ''}: missing or wrong passphrase`, { hint: 'set ssh.passphrase' });
    if (/privateKey|private key/i.test(msg))
      return new ConnectError(this.name, `cannot use private key${keyPath ? ` ${keyPath}` : ''}: unsupported or malformed key`);
    return new ConnectError(this.name, `cannot connect to ${this.where}: ${msg.replace(/^getConnection: /, '')}`);
  }

  private get sftp(): SFTPWrapper {
    if (this.lost) throw new ConnectError(this.name, `connection to ${this.where} lost: ${this.lost.message}`);
    if (!this.sftpSession || !this.client) throw new ConnectError(this.name, 'not connected (connect() was not called)');
    return this.sftpSession;
  }

  private call<T>(op: string, p: string, fn: (sftp: SFTPWrapper, cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      let sftp: SFTPWrapper;
      try {
        sftp = this.sftp;
      } catch (e) {
        return reject(e);
      }
      try {
        fn(sftp, (err, v) => (err ? reject(err) : resolve(v as T)));
      } catch (e) {
        reject(new RemoteFileError(this.name, op, p, e));
      }
    });
  }

  private fail(op: string, p: string, e: unknown): never {
    if (e instanceof ShipError) throw e;
    if (this.lost) throw new ConnectError(this.name, `connection to ${this.where} lost during ${op} ${p}: ${this.lost.message}`);
    throw new RemoteFileError(this.name, op, p, e);
  }

  async home(): Promise<string> {
    try {
      return await this.call<string>('realpath', '.', (s, cb) => s.realpath('.', cb));
    } catch (e) {
      this.fail('realpath', '.', e);
    }
  }

  async exec(command: Shell, opts: ExecOptions = {}): Promise<ExecResult> {
    // The script (env values included) goes over the channel's stdin, never into argv.
    const o = await resolveEnvFile((p) => this.readFile(p), opts, this.opts.onWarning);
    const preamble = framed(wrapCommand(command, o));
    const remote = `exec /bin/sh -c ${quote(BOOTSTRAP)}`;
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(new ConnectError(this.name, `connection to ${this.where} lost: ${this.lost.message}`));
      if (!this.client) return reject(new ConnectError(this.name, 'not connected (connect() was not called)'));
      const client = rawClient(this.client);
      try {
        client.exec(remote, (err, ch) => {
          if (err) {
            const why = this.lost ? `connection lost (${this.lost.message})` : err.message;
            return reject(new ConnectError(this.name, `cannot start a command on ${this.where}: ${why}`));
          }
          this.runChannel(ch, command.text, o, resolve, reject, preamble);
        });
      } catch (e) {
        reject(new ConnectError(this.name, `cannot start a command on ${this.where}: ${(e as Error).message}`));
      }
    });
  }

  private runChannel(
    ch: ClientChannel,
    shown: string,
    opts: ExecOptions,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
    preamble?: Buffer,
  ): void {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let code: number | null = null;
    let signal: string | undefined;
    let exited = false;
    let timedOut = false;
    let settled = false;
    ch.on('data', (d: Buffer) => out.push(d));
    ch.stderr.on('data', (d: Buffer) => err.push(d));
    ch.on('exit', (c: number | null, sig?: string) => {
      exited = true;
      if (typeof c === 'number') code = c;
      else if (sig) signal = sig.startsWith('SIG') ? sig : `SIG${sig}`;
    });
    ch.on('error', () => {}); // write after the command stopped reading; close follows
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (timedOut || settled) return;
      timedOut = true;
      if (timer) clearTimeout(timer);
      if (opts.stdin && typeof opts.stdin === 'object' && !Buffer.isBuffer(opts.stdin)) (opts.stdin as Readable).unpipe(ch);
      sendSignal(ch, 'KILL');
      ch.close();
      // sshd keeps a channel open until its process ends; never wait on it for long.
      timer = setTimeout(() => finish(), 2000);
    };
    this.running.add(kill);
    if (opts.timeoutMs) timer = setTimeout(kill, opts.timeoutMs);
    const finish = () => {
      this.running.delete(kill);
      if (timer) clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (!exited && !timedOut && this.lost) {
        return reject(new ConnectError(this.name, `connection to ${this.where} lost while running: ${shown}`));
      }
      if (timedOut && !exited) signal = 'SIGKILL';
      resolve({
        command: shown,
        code: timedOut && code === null ? null : code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    };
    ch.on('close', finish);
    const input = opts.stdin;
    if (preamble) ch.write(preamble);
    if (input === undefined) ch.end();
    else if (typeof input === 'string' || Buffer.isBuffer(input)) ch.end(input);
    else {
      const src = input as Readable;
      src.once('error', (e) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        ch.close();
        reject(new ShipError(`${this.name}: reading input for ${shown} failed: ${e.message}`, { host: this.name, cause: e }));
      });
      // Data still flowing means the server keeps opening the channel window: alive. ssh2's
      // keepalive counts only ping replies, which can queue behind a long upload.
      const client = this.client && (rawClient(this.client) as unknown as { _resetKA?: () => void });
      src.on('data', () => client?._resetKA?.());
      src.pipe(ch); // backpressure: pipe waits for the channel window
    }
  }

  cancel(): void {
    for (const kill of [...this.running]) kill();
  }

  async readFile(p: string): Promise<Buffer | null> {
    try {
      return await this.call<Buffer>('read', p, (s, cb) => s.readFile(p, cb as never));
    } catch (e) {
      if (isMissing(e)) return null;
      this.fail('read', p, e);
    }
  }

  async writeFile(p: string, data: string | Buffer, opts: { exclusive?: boolean; mode?: number } = {}): Promise<void> {
    const flag = opts.exclusive ? 'wx' : 'w';
    try {
      await this.call<void>('write', p, (s, cb) => s.writeFile(p, data, { flag, mode: opts.mode ?? 0o666 } as never, cb));
    } catch (e) {
      // OpenSSH reports O_EXCL's EEXIST as a generic FAILURE: look whether the path is there.
      if (opts.exclusive && !(e instanceof ShipError) && (await this.stat(p).catch(() => null))) throw new FileExistsError(p);
      this.fail('write', p, e);
    }
  }

  async appendFile(p: string, data: string): Promise<void> {
    try {
      await this.call<void>('append', p, (s, cb) => s.appendFile(p, data, cb));
    } catch (e) {
      this.fail('append', p, e);
    }
  }

  async mkdirp(p: string): Promise<void> {
    const mkdir = () => this.call<void>('mkdir', p, (s, cb) => s.mkdir(p, cb));
    try {
      await mkdir();
      return;
    } catch (e) {
      if (e instanceof ShipError) throw e;
      let st: Stats | undefined;
      try {
        st = await this.call<Stats>('stat', p, (s, cb) => s.stat(p, cb));
      } catch (e2) {
        if (!isMissing(e2)) this.fail('mkdir', p, e);
      }
      if (st) {
        if (st.isDirectory()) return;
        this.fail('mkdir', p, Object.assign(new Error('exists and is not a directory'), { code: 'EEXIST' }));
      }
      const parent = path.posix.dirname(p);
      if (parent === p) this.fail('mkdir', p, e);
      await this.mkdirp(parent);
      try {
        await mkdir();
      } catch (e3) {
        // created meanwhile by someone else?
        const again = await this.call<Stats>('stat', p, (s, cb) => s.stat(p, cb)).catch(() => undefined);
        if (again?.isDirectory()) return;
        this.fail('mkdir', p, e3);
      }
    }
  }

  async remove(p: string): Promise<void> {
    if (!p || p === '/' || !p.startsWith('/')) throw new ShipError(`${this.name}: refusing to remove ${JSON.stringify(p)} (not an absolute path below /)`, { host: this.name });
    const r = await this.exec(sh`rm -rf -- ${p}`);
    if (r.code !== 0) throw new RemoteFileError(this.name, 'remove', p, new Error(r.stderr.trim() || `rm exited ${r.code}`));
  }

  async stat(p: string): Promise<FileStat | null> {
    try {
      const st = await this.call<Stats>('stat', p, (s, cb) => s.lstat(p, cb));
      const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      return { type, size: st.size, mode: st.mode & 0o7777 };
    } catch (e) {
      if (isMissing(e)) return null;
      this.fail('stat', p, e);
    }
  }

  async readlink(p: string): Promise<string | null> {
    try {
      return await this.call<string>('readlink', p, (s, cb) => s.readlink(p, cb));
    } catch (e) {
      if (e instanceof ShipError) throw e;
      if (isMissing(e)) return null;
      const st = await this.stat(p);
      if (!st || st.type !== 'symlink') return null;
      this.fail('readlink', p, e);
    }
  }

  async symlink(target: string, p: string): Promise<void> {
    try {
      // ssh2 swaps the arguments for OpenSSH servers itself (their SYMLINK order is reversed).
      await this.call<void>('symlink', p, (s, cb) => s.symlink(target, p, cb));
    } catch (e) {
      if (!(e instanceof ShipError) && (await this.stat(p).catch(() => null))) {
        this.fail('symlink', p, Object.assign(new Error('file exists'), { code: 'EEXIST' }));
      }
      this.fail('symlink', p, e);
    }
  }

  /** Whether the server offers posix-rename@openssh.com (overridable for tests). */
  protected hasPosixRename(): boolean {
    const ext = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return !!ext?.['posix-rename@openssh.com'];
  }

  async renameMethod(): Promise<'posix-rename' | 'mv -T' | 'none'> {
    if (this.hasPosixRename()) return 'posix-rename';
    const r = await this.exec(sh`mv --help 2>&1 | grep -q -e --no-target-directory`);
    return r.code === 0 ? 'mv -T' : 'none';
  }

  async rename(from: string, to: string): Promise<void> {
    if (this.hasPosixRename()) {
      try {
        await this.call<void>('rename', from, (s, cb) => s.ext_openssh_rename(from, to, cb));
        return;
      } catch (e) {
        this.fail('rename', `${from} -> ${to}:`, e);
      }
    }
    const r = await this.exec(sh`mv -T -- ${from} ${to}`);
    if (r.code === 0) return;
    throw new ShipError(
      `${this.name}: cannot rename ${from} to ${to} atomically: the SFTP server lacks posix-rename@openssh.com and \`mv -T\` failed (exit ${r.code}): ${r.stderr.trim()}`,
      { host: this.name, reason: 'rename', hint: 'use an OpenSSH server, or GNU coreutils on the host' },
    );
  }

  async list(dir: string): Promise<string[]> {
    try {
      const entries = await this.call<{ filename: string }[]>('list', dir, (s, cb) => s.readdir(dir, cb as never));
      return entries
        .map((e) => e.filename)
        .filter((n) => n !== '.' && n !== '..')
        .sort();
    } catch (e) {
      if (isMissing(e)) return [];
      this.fail('list', dir, e);
    }
  }

  forward(port: number, address = '127.0.0.1'): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(new ConnectError(this.name, `connection to ${this.where} lost: ${this.lost.message}`));
      if (!this.client) return reject(new ConnectError(this.name, 'not connected (connect() was not called)'));
      try {
        rawClient(this.client).forwardOut('127.0.0.1', 0, address, port, (err, ch) => {
          if (err) return reject(new ShipError(`${this.name}: cannot open a connection to ${address}:${port} from the host: ${err.message}`, { host: this.name, cause: err }));
          resolve(ch);
        });
      } catch (e) {
        reject(new ShipError(`${this.name}: cannot open a connection to ${address}:${port} from the host: ${(e as Error).message}`, { host: this.name }));
      }
    });
  }

  /**
   * Starts `command` (wrapped like exec: cwd, env, envFile) on a pseudo-terminal and
   * returns the open channel, for `ship ssh`: the caller wires it to the local terminal.
   *
   * As with exec, the process started is `/bin/sh -c <bootstrap>` and the script (env and
   * envFile values included) is sent on the channel, which is the terminal's input: the
   * terminal is requested without echo, line editing, signals, flow control and CR
   * translation, so the script is read byte for byte and never shown; its first line turns
   * those back on, then the command (the login shell) runs on the same terminal, reading
   * what the user types after the script (docs/security.md).
   */
  async openPty(command: Shell, opts: ExecOptions & { rows: number; cols: number; term: string }): Promise<ClientChannel> {
    const o = await resolveEnvFile((p) => this.readFile(p), opts);
    const preamble = framed(wrapCommand(sh`${TERMINAL_ON}\n${command}`, o));
    const remote = `exec /bin/sh -c ${quote(BOOTSTRAP)}`;
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(new ConnectError(this.name, `connection to ${this.where} lost: ${this.lost.message}`));
      if (!this.client) return reject(new ConnectError(this.name, 'not connected (connect() was not called)'));
      try {
        const pty = { rows: opts.rows, cols: opts.cols, term: opts.term, modes: SCRIPT_INPUT_MODES };
        rawClient(this.client).exec(remote, { pty }, (err, ch) => {
          if (err) return reject(new ConnectError(this.name, `cannot start a terminal session on ${this.where}: ${err.message}`));
          ch.write(preamble);
          resolve(ch);
        });
      } catch (e) {
        reject(new ConnectError(this.name, `cannot start a terminal session on ${this.where}: ${(e as Error).message}`));
      }
    });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.sftpSession = undefined;
    this.connecting = undefined;
    if (c) {
      try {
        await c.end();
      } catch {
        /* already closed */
      }
    }
    if (this.jumpTransport) {
      await this.jumpTransport.close();
      this.jumpTransport = undefined;
    }
  }
}

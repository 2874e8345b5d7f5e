import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

import { Readable, type Duplex } from 'node:stream';
import type { Shell } from '../shell.js';
import { BOOTSTRAP, framed, resolveEnvFile, wrapCommand } from './command.js';
import { FileExistsError, type ExecOptions, type ExecResult, type FileStat, type Transport } from './types.js';

/** This machine's file system and /bin/sh: the same steps, no SSH. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  constructor(
    readonly name = 'local',
    private readonly warn?: (msg: string) => void,
  ) {}

  async connect(): Promise<void> {}
  async home(): Promise<string> {
    return os.homedir();
  }

  /** Kill switches of the commands running now (cancel()). */
  private readonly running = new Set<() => void>();

  async exec(command: Shell, opts: ExecOptions = {}): Promise<ExecResult> {
    const o = await resolveEnvFile((p) => this.readFile(p), opts, this.warn);
    return runSh(wrapCommand(command, o), command.text, o, this.running);
  }

  cancel(): void {
    for (const kill of [...this.running]) kill();
  }

  async readFile(p: string): Promise<Buffer | null> {
    try {
      return await fs.readFile(p);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async writeFile(p: string, data: string | Buffer, opts: { exclusive?: boolean; mode?: number } = {}): Promise<void> {
    try {
      await fs.writeFile(p, data, { flag: opts.exclusive ? 'wx' : 'w', mode: opts.mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(p);
      throw e;
    }
  }

  async appendFile(p: string, data: string): Promise<void> {
    await fs.appendFile(p, data);
  }
  async mkdirp(p: string): Promise<void> {
    await fs.mkdir(p, { recursive: true });
  }
  async remove(p: string): Promise<void> {
    await fs.rm(p, { recursive: true, force: true });
  }
  async stat(p: string): Promise<FileStat | null> {
    try {
      const s = await fs.lstat(p);
      const type = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
      return { type, size: s.size, mode: s.mode & 0o7777 };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }
  async readlink(p: string): Promise<string | null> {
    try {
      return await fs.readlink(p);
    } catch (e) {
      if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'EINVAL') return null;
      throw e;
    }
  }
  async symlink(target: string, p: string): Promise<void> {
    await fs.symlink(target, p);
  }
  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to);
  }
  async list(dir: string): Promise<string[]> {
    try {
      return (await fs.readdir(dir)).sort();
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
  }
  forward(port: number, address = '127.0.0.1'): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: address });
      sock.once('connect', () => resolve(sock));
      sock.once('error', reject);
    });
  }
  async renameMethod(): Promise<'rename(2)'> {
    return 'rename(2)';
  }
  async close(): Promise<void> {}
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Runs a script with /bin/sh (sent on stdin, never in argv: see command.ts) and collects its output. */
export function runSh(script: string, shown: string, opts: ExecOptions = {}, running?: Set<() => void>): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills the whole command, not just /bin/sh
    // (a surviving child would hold the pipes open until it ends).
    const child = spawn('/bin/sh', ['-c', BOOTSTRAP], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    running?.add(kill);
    if (opts.timeoutMs) timer = setTimeout(kill, opts.timeoutMs);
    child.on('error', (e) => {
      running?.delete(kill);
      reject(e);
    });
    child.on('close', (code, signal) => {
      running?.delete(kill);
      if (timer) clearTimeout(timer);
      if (inputError) return reject(inputError);
      resolve({
        command: shown,
        code,
        signal: signal ?? undefined,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    // Input that fails to produce (an unreadable build file in the archive) ends the
    // command, which would otherwise wait on its stdin for ever, and is the error.
    let inputError: Error | undefined;
    if (opts.stdin && typeof opts.stdin === 'object' && !Buffer.isBuffer(opts.stdin)) {
      (opts.stdin as Readable).once('error', (e) => {
        inputError = e;
        kill();
      });
    }
    feed(child.stdin, opts.stdin, framed(script));
  });
}

/** Writes `preamble` (the framed script), then the command's own input, and ends. */
export function feed(sink: NodeJS.WritableStream, input: ExecOptions['stdin'], preamble?: Buffer): void {
  if (preamble) {
    if (input === undefined) return void sink.end(preamble);
    if (typeof input === 'string' || Buffer.isBuffer(input)) return void sink.end(Buffer.concat([preamble, Buffer.from(input)]));
    sink.write(preamble);
  }
  if (input === undefined) sink.end();
  else if (typeof input === 'string' || Buffer.isBuffer(input)) sink.end(input);
  else (input as Readable).pipe(sink);
}


import type { Duplex, Readable } from 'node:stream';
import type { Shell } from '../shell.js';

export interface ExecOptions {
  /** Directory to run in (absolute). */
  cwd?: string;
  /** Exported before the command runs. Values never reach output. */
  env?: Record<string, string>;
  /** A file (relative to cwd, or absolute) whose variables are exported when it exists. */
  envFile?: string;
  /** Data for the command's standard input. */
  stdin?: Readable | string | Buffer;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /**
   * The command only reads (state, df, a lock, a manifest, a probe): a dry run's
   * read-only transport lets it through. Every other command counts as a write there.
   */
  readOnly?: boolean;
  /** More values that must never reach output (`--verbose` shows the command's output with them replaced). */
  redact?: string[];
}

export interface ExecResult {
  /** The command as given (without the env/cwd wrapping, so it can be shown). */
  command: string;
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface FileStat {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
}

/** Raised by writeFile({ exclusive: true }) when the path already exists. */
export class FileExistsError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly path: string) {
    super(`file exists: ${path}`);
  }
}

/**
 * What every step is written against. `local` and `ssh` implement it; steps never
 * ask which one they have. Paths are absolute on the target host.
 */
export interface Transport {
  /** The host's name as output shows it. */
  readonly name: string;
  readonly kind: 'local' | 'ssh';
  connect(): Promise<void>;
  /** The home directory of the user ship acts as on the host. */
  home(): Promise<string>;
  /** Runs `command` with /bin/sh; resolves with the exit code (never throws on non-zero). */
  exec(command: Shell, opts?: ExecOptions): Promise<ExecResult>;
  /** null when the file does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /** exclusive: create only, FileExistsError if present (O_EXCL). */
  writeFile(path: string, data: string | Buffer, opts?: { exclusive?: boolean; mode?: number }): Promise<void>;
  appendFile(path: string, data: string): Promise<void>;
  mkdirp(path: string): Promise<void>;
  /** Recursive; nothing happens when the path is missing. */
  remove(path: string): Promise<void>;
  /** lstat: does not follow a final symlink. null when missing. */
  stat(path: string): Promise<FileStat | null>;
  /** null when missing or not a symlink. */
  readlink(path: string): Promise<string | null>;
  symlink(target: string, path: string): Promise<void>;
  /** Atomic rename(2) that replaces an existing target (file or symlink). */
  rename(from: string, to: string): Promise<void>;
  /** Entry names of a directory; [] when it is missing. */
  list(dir: string): Promise<string[]>;
  /** A TCP stream opened from the host to its own address:port (health checks). */
  forward(port: number, address?: string): Promise<Duplex>;
  /** How `rename` replaces a target atomically here ('none': it cannot; ship refuses to switch). */
  renameMethod(): Promise<'rename(2)' | 'posix-rename' | 'mv -T' | 'none'>;
  /**
   * Kills the commands this transport is running now (each resolves as killed); the
   * connection stays open for the clean-up that follows. For a second Ctrl-C.
   */
  cancel(): void;
  close(): Promise<void>;
}

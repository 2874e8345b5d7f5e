import { InternalError } from '../errors.js';
import type { Shell } from '../shell.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

/**
 * A write reached a host during a dry run. Steps say what they would do in `preview()`
 * instead of writing; this error means one did not (a bug), and the write never happened.
 */
export class ReadOnlyViolation extends InternalError {
  constructor(
    host: string,
    readonly operation: string,
    readonly target: string,
  ) {
    super(`${host}: a dry run tried to ${operation} ${target}; nothing was written`);
    Object.assign(this, { host });
  }
}

/**
 * The transport of a dry run: reads pass through, writes throw ReadOnlyViolation before
 * anything reaches the host. A command passes only when its caller marked it
 * `readOnly` (it reads state, a lock, a manifest, free space, ...).
 */
export class ReadOnlyTransport implements Transport {
  constructor(readonly inner: Transport) {}

  get name(): string {
    return this.inner.name;
  }

  get kind(): Transport['kind'] {
    return this.inner.kind;
  }

  private refuse(operation: string, target: string): never {
    throw new ReadOnlyViolation(this.inner.name, operation, target);
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  home(): Promise<string> {
    return this.inner.home();
  }

  async exec(command: Shell, opts: ExecOptions = {}): Promise<ExecResult> {
    if (!opts.readOnly) this.refuse('run', command.text);
    return this.inner.exec(command, opts);
  }

  readFile(path: string): Promise<Buffer | null> {
    return this.inner.readFile(path);
  }

  async writeFile(path: string, _data?: string | Buffer, _opts?: { exclusive?: boolean; mode?: number }): Promise<void> {
    this.refuse('write', path);
  }

  async appendFile(path: string, _data?: string): Promise<void> {
    this.refuse('append to', path);
  }

  async mkdirp(path: string): Promise<void> {
    this.refuse('create the directory', path);
  }

  async remove(path: string): Promise<void> {
    this.refuse('remove', path);
  }

  stat(path: string) {
    return this.inner.stat(path);
  }

  readlink(path: string): Promise<string | null> {
    return this.inner.readlink(path);
  }

  async symlink(_target: string, path: string): Promise<void> {
    this.refuse('create the symlink', path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.refuse('rename', `${from} to ${to}`);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  forward(port: number, address?: string) {
    return this.inner.forward(port, address);
  }

  renameMethod() {
    return this.inner.renameMethod();
  }

  cancel(): void {
    this.inner.cancel();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

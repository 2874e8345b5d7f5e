/**
 * The one family of errors ship throws. Only src/cli.ts turns them into exit codes.
 * Each carries what a user needs: the host, the thing, and what to do next.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export interface ShipErrorInit {
  host?: string;
  hint?: string;
  reason?: string;
  cause?: unknown;
}

export class ShipError extends Error {
  readonly exitCode: ExitCode = 1;
  readonly reason: string;
  readonly host?: string;
  readonly hint?: string;
  constructor(message: string, init: ShipErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.host = init.host;
    this.hint = init.hint;
    this.reason = init.reason ?? 'failed';
  }
}

/** The command line or the config is wrong: nothing was contacted or changed. */
export class UsageError extends ShipError {
  override readonly exitCode = 2 as const;
  constructor(message: string, init: ShipErrorInit = {}) {
    super(message, { reason: 'usage', ...init });
  }
}

export interface ConfigProblem {
  path: string;
  message: string;
  hint?: string;
}

/** Every problem of a config, collected and reported together by key path. */
export class ConfigError extends UsageError {
  readonly problems: ConfigProblem[];
  constructor(file: string | undefined, problems: ConfigProblem[]) {
    const where = file ? ` in ${file}` : '';
    const lines = problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`);
    super(`invalid config${where}:\n${lines.join('\n')}`, { reason: 'config' });
    this.problems = problems;
  }
}

/** Another run holds a host. Graceful: never runs `failed` hooks, never touches the other lock. */
export class LockedError extends ShipError {
  override readonly exitCode = 3 as const;
  readonly holder: string;
  constructor(host: string, holder: string, init: { message?: string; hint?: string } = {}) {
    super(init.message ?? `${host}: locked by ${holder}`, {
      host,
      reason: 'locked',
      hint: init.hint ?? 'wait for that run, or pass --lock-wait <seconds>',
    });
    this.holder = holder;
  }
}

/** This run's lock was removed (ship unlock --force) and maybe taken by another run: it stops before writing again. */
export class LockLostError extends ShipError {
  override readonly exitCode = 3 as const;
  constructor(host: string, detail: string) {
    super(`${host}: this run lost its lock (${detail}); stopped before changing anything more there`, {
      host,
      reason: 'lock-lost',
      hint: 'another run may be deploying now: see ship status <stage>, then deploy again once it is done',
    });
  }
}

/** A host could not be reached or authenticated, or its host key did not verify. */
export class ConnectError extends ShipError {
  override readonly exitCode = 4 as const;
  constructor(host: string, message: string, init: ShipErrorInit = {}) {
    super(`${host}: ${message}`, { host, reason: 'connect', ...init });
  }
}

/** A remote or local command exited non-zero. */
export class CommandError extends ShipError {
  readonly command: string;
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  constructor(host: string, what: string, r: { command: string; code: number | null; stdout: string; stderr: string }, hint?: string) {
    const tail = lastLines(r.stderr || r.stdout, 12);
    super(`${host}: ${what} failed (exit ${r.code ?? 'signal'})${tail ? `:\n${indent(tail)}` : ''}`, {
      host,
      hint,
      reason: 'command',
    });
    this.command = r.command;
    this.code = r.code;
    this.stderr = r.stderr;
    this.stdout = r.stdout;
  }
}

/**
 * Another user's process listens on a color's port: whatever answers there is not the
 * release ship started, and nothing is routed to it (docs/blue-green.md, Who answers on
 * a color's port).
 */
export class ForeignListenerError extends ShipError {
  readonly port: number;
  readonly uid: number;
  readonly user?: string;
  constructor(host: string, port: number, what: string, owner: { uid: number; user?: string }, expectedUid: number) {
    const who = `uid ${owner.uid}${owner.user ? ` (${owner.user})` : ''}`;
    super(`${host}: 127.0.0.1:${port} (${what}) is held by another user: ${who} listens there, not the deploy user (uid ${expectedUid}) or root; nothing was routed to it`, {
      host,
      reason: 'foreign-listener',
      hint: `find that process on ${host} (as root: ss -ltnp 'sport = :${port}') and stop it, or give the colors other ports; then deploy again`,
    });
    this.port = port;
    this.uid = owner.uid;
    this.user = owner.user;
  }
}

/** A bug in ship itself. */
export class InternalError extends ShipError {
  constructor(message: string, cause?: unknown) {
    super(`internal error: ${message}`, { reason: 'internal', cause, hint: 'this is a bug in ship; please report it with --verbose output' });
  }
}

export function lastLines(text: string, n: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function toShipError(err: unknown): ShipError {
  if (err instanceof ShipError) return err;
  const e = err as NodeJS.ErrnoException;
  const local = localFileError(e);
  if (local) return local;
  return new InternalError(e?.message ?? String(err), err);
}

const DENIED: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

/** What a file-system errno means, for the errors that name a path on this machine. */
const ERRNO: Record<string, string> = {
  ...DENIED,
  ELOOP: 'too many levels of symbolic links (a symlink loop?)',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  ENAMETOOLONG: 'name too long',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'resource busy',
  EXDEV: 'on another file system',
  EIO: 'input/output error',
  ETXTBSY: 'text file busy',
};

/** A file or directory on this machine that ship could not use: the user's to fix, not a bug. Names the path. */
export class LocalFileError extends ShipError {
  readonly path: string;
  readonly code: string;
  constructor(e: NodeJS.ErrnoException & { code: string; path: string }) {
    const op = e.syscall ? ` (${e.syscall})` : '';
    super(`${e.path}: ${ERRNO[e.code] ?? e.code}${op}`, {
      reason: DENIED[e.code] ? 'local-permission' : 'local-file',
      hint: DENIED[e.code] ? `check the owner and mode of ${e.path} and its parent directories on this machine` : `check ${e.path} on this machine`,
      cause: e,
    });
    this.path = e.path;
    this.code = e.code;
  }
}

/** An errno error (EACCES, ELOOP, ENOSPC, …) that names a path on this machine becomes a LocalFileError. */
function localFileError(e: NodeJS.ErrnoException | undefined): ShipError | undefined {
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code) || typeof e.path !== 'string') return undefined;
  return new LocalFileError(e as NodeJS.ErrnoException & { code: string; path: string });
}

/** Another run holds (or took) the lock: graceful, never answered with `failed` hooks. */
export function isLockConflict(e: ShipError): boolean {
  return e instanceof LockedError || e instanceof LockLostError;
}

/** An operation failed on its way (not the input, a lock or an unreachable host): what an automatic rollback answers. */
export function isFailure(e: ShipError): boolean {
  return !(e instanceof UsageError || e instanceof ConnectError || isLockConflict(e));
}

/** Orders errors by how telling they are: an unreachable host, then a lock, then a failure, then the input. */
export function severity(e: ShipError): number {
  return e instanceof ConnectError ? 3 : isLockConflict(e) ? 2 : e instanceof UsageError ? 0 : 1;
}

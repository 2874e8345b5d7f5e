/**
 * A private, real php-fpm (Debian's php8.2-fpm) for the integration tests.
 *
 *   const fpm = await startPhpFpm({ pool: renderedPoolConf, socket, owner: { uid, gid } });
 *   fpm.reloadCommand   // for a stage's `reload`: SIGUSR2 to this master, as `systemctl reload php8.2-fpm` sends
 *   await fpm.stop();   // also on process exit, SIGINT, SIGTERM
 *
 * The main config is Debian's /etc/php/8.2/fpm/php-fpm.conf with its paths moved into a
 * temp prefix: `[global]` pid and error_log, and `include` of the pool directory, where
 * the pool file (rendered from templates/php-fpm/pool.conf) goes as it would go to
 * /etc/php/8.2/fpm/pool.d/. No other global setting, so Debian's defaults hold
 * (process_control_timeout 0) unless the pool file sets one. The master runs in the
 * foreground as `owner` (the sshd harness login user, the deploy user), so that user can
 * reload it from a deploy and the workers read the releases as it; php-fpm ignores the
 * pool's `user`/`group` when not root. php.ini is the distribution's FPM php.ini (OPcache
 * on); php8.2-fpm is installed by scripts/ensure-system.sh when missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reaper, stopChild } from './reaper.js';

export const PHP_FPM = '/usr/sbin/php-fpm8.2';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface PhpFpm {
  prefix: string;
  /** The main config (php-fpm -y). */
  conf: string;
  pidFile: string;
  pid: number;
  /** `kill -USR2 <master>`: php-fpm's reload, what `systemctl reload php8.2-fpm` does. */
  reloadCommand: string;
  /** The error log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const reaper = new Reaper('SIGQUIT');
const { live, dirs } = reaper;

export function ensurePhpFpm(): void {
  if (existsSync(PHP_FPM)) return;
  spawnSync('bash', [path.join(root, 'scripts/ensure-system.sh')], { stdio: 'inherit' });
  if (!existsSync(PHP_FPM)) throw new Error(`php-fpm harness: ${PHP_FPM} is missing and could not be installed (apt-get install php8.2-fpm php8.2-opcache)`);
}

/** A temp dir the owner can write and everyone can reach (nginx, running as the same user, connects to the socket there). */
export function fpmPrefix(owner?: { uid: number; gid: number }): string {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'ship-php-fpm-'));
  dirs.add(prefix);
  chmodSync(prefix, 0o755);
  if (owner) chownSync(prefix, owner.uid, owner.gid);
  return prefix;
}

function waitFor(cond: () => boolean, proc: ChildProcess, log: () => string, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`php-fpm exited (${proc.exitCode ?? proc.signalCode}):\n${log()}`));
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`php-fpm: ${what} did not happen:\n${log()}`));
      setTimeout(attempt, 50);
    };
    attempt();
  });
}

/**
 * Starts php-fpm in `prefix` (from fpmPrefix) with one pool file. `socket` is the pool's
 * `listen` path (start() waits until it exists).
 */
export async function startPhpFpm(opts: { prefix: string; pool: string; socket: string; owner?: { uid: number; gid: number } }): Promise<PhpFpm> {
  ensurePhpFpm();
  const { prefix, owner } = opts;
  const poolDir = path.join(prefix, 'pool.d');
  mkdirSync(poolDir, { recursive: true });
  const conf = path.join(prefix, 'php-fpm.conf');
  const pidFile = path.join(prefix, 'php-fpm.pid');
  const errorLog = path.join(prefix, 'php-fpm.log');
  writeFileSync(conf, ['[global]', `pid = ${pidFile}`, `error_log = ${errorLog}`, `include=${poolDir}/*.conf`, ''].join('\n'), { mode: 0o644 });
  writeFileSync(path.join(poolDir, 'app.conf'), opts.pool, { mode: 0o644 });
  writeFileSync(errorLog, '');
  if (owner) for (const p of [poolDir, conf, errorLog, path.join(poolDir, 'app.conf')]) chownSync(p, owner.uid, owner.gid);
  const log = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '') + (existsSync(path.join(prefix, 'stderr.log')) ? readFileSync(path.join(prefix, 'stderr.log'), 'utf8') : '');

  const test = spawnSync(PHP_FPM, ['-t', '-y', conf], { encoding: 'utf8', uid: owner?.uid, gid: owner?.gid });
  if (test.status !== 0) throw new Error(`php-fpm harness: the config does not load:\n${test.stderr}${test.stdout}\n${opts.pool}`);
  const proc = spawn(PHP_FPM, ['-F', '-y', conf], { stdio: ['ignore', 'ignore', 'pipe'], uid: owner?.uid, gid: owner?.gid, cwd: prefix });
  proc.stderr!.on('data', (d: Buffer) => appendFileSync(path.join(prefix, 'stderr.log'), d));
  proc.unref();
  (proc.stderr as unknown as { unref?: () => void }).unref?.();
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  try {
    await waitFor(() => existsSync(opts.socket) && existsSync(pidFile), proc, log, `listening on ${opts.socket}`);
  } catch (e) {
    proc.kill('SIGQUIT');
    throw e;
  }
  let stopped = false;
  return {
    prefix,
    conf,
    pidFile,
    pid: proc.pid!,
    reloadCommand: `kill -USR2 "$(cat ${pidFile})"`,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(proc, 'SIGQUIT');
      rmSync(prefix, { recursive: true, force: true });
      dirs.delete(prefix);
    },
  };
}

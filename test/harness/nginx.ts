/**
 * A private, real nginx for the integration tests.
 *
 *   const ports = [await freePort(), await freePort()];
 *   const nginx = await startNginx({ servers: [serverBlock1, serverBlock2], owner: { uid, gid } });
 *   nginx.reloadCommand   // for a stage's `reload`: runs as the owner (the sshd login user)
 *   await nginx.stop();   // also on process exit, SIGINT, SIGTERM
 *
 * Everything lives in a temp prefix (config, pid, error log, temp paths). The master runs
 * as `owner` (the unprivileged sshd harness user), in the foreground (`daemon off`), so
 * that user can reload it (`nginx -s reload`, a SIGHUP to its own process) from a deploy
 * and every file nginx reads under the deploy roots is that user's. Server blocks are
 * given whole (tests render templates/nginx/site.conf into them) and must listen on
 * 127.0.0.1 only. nginx is installed (scripts/ensure-system.sh) when missing; only core
 * directives are used, so nginx-light is enough.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reaper, stopChild } from './reaper.js';

export const NGINX = '/usr/sbin/nginx';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface NginxOptions {
  /** `server { … }` blocks (and `upstream { … }`), placed inside `http { }`. */
  servers: string[];
  /** Ports the server blocks listen on: start() waits until each accepts connections. */
  ports: number[];
  /** Run the master as this user (the sshd harness login user). Default: the current user. */
  owner?: { uid: number; gid: number };
  /** worker_processes (default 1). */
  workers?: number;
}

export interface Nginx {
  prefix: string;
  conf: string;
  pidFile: string;
  errorLog: string;
  pid: number;
  /** A shell command that reloads this nginx gracefully (for a stage's `reload`). */
  reloadCommand: string;
  /** Replaces the server blocks and reloads. */
  setServers(servers: string[]): Promise<void>;
  reload(): Promise<void>;
  /** The error log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const reaper = new Reaper();
const { live, dirs } = reaper;

export function ensureNginx(): void {
  if (existsSync(NGINX)) return;
  spawnSync('bash', [path.join(root, 'scripts/ensure-system.sh')], { stdio: 'inherit' });
  if (!existsSync(NGINX)) throw new Error(`nginx harness: ${NGINX} is missing and could not be installed (apt-get install nginx-light)`);
}

function mainConf(prefix: string, servers: string[], workers = 1): string {
  const tmp = (n: string) => path.join(prefix, 'tmp', n);
  return [
    'daemon off;',
    'master_process on;',
    `worker_processes ${workers};`,
    `pid ${path.join(prefix, 'nginx.pid')};`,
    `error_log ${path.join(prefix, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '    include /etc/nginx/mime.types;',
    '    default_type application/octet-stream;',
    '    access_log off;',
    '    sendfile on;',
    '    keepalive_timeout 65;',
    `    client_body_temp_path ${tmp('body')};`,
    `    proxy_temp_path ${tmp('proxy')};`,
    `    fastcgi_temp_path ${tmp('fastcgi')};`,
    `    uwsgi_temp_path ${tmp('uwsgi')};`,
    `    scgi_temp_path ${tmp('scgi')};`,
    ...servers.map((s) => s.replace(/^/gm, '    ')),
    '}',
    '',
  ].join('\n');
}

function waitForPort(port: number, proc: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`nginx exited (${proc.exitCode ?? proc.signalCode}):\n${log()}`));
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`nginx did not listen on 127.0.0.1:${port}:\n${log()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  ensureNginx();
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'ship-nginx-'));
  dirs.add(prefix);
  chmodSync(prefix, 0o755);
  mkdirSync(path.join(prefix, 'tmp'));
  mkdirSync(path.join(prefix, 'logs')); // nginx wants <prefix>/logs for its built-in defaults
  const conf = path.join(prefix, 'nginx.conf');
  const pidFile = path.join(prefix, 'nginx.pid');
  const errorLog = path.join(prefix, 'error.log');
  writeFileSync(conf, mainConf(prefix, opts.servers, opts.workers), { mode: 0o644 });
  writeFileSync(errorLog, '');
  if (opts.owner) {
    for (const p of [prefix, path.join(prefix, 'tmp'), path.join(prefix, 'logs'), errorLog, conf]) chownSync(p, opts.owner.uid, opts.owner.gid);
  }
  const base = [NGINX, '-p', prefix, '-c', conf, '-e', errorLog];
  const test = spawnSync(base[0], [...base.slice(1), '-t', '-q'], { encoding: 'utf8', uid: opts.owner?.uid, gid: opts.owner?.gid });
  if (test.status !== 0) throw new Error(`nginx harness: the config does not load:\n${test.stderr}\n${readFileSync(conf, 'utf8')}`);

  const proc = spawn(base[0], base.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], uid: opts.owner?.uid, gid: opts.owner?.gid });
  proc.stderr!.on('data', (d: Buffer) => appendFileSync(path.join(prefix, 'stderr.log'), d));
  proc.unref();
  (proc.stderr as unknown as { unref?: () => void }).unref?.();
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  const log = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '') + (existsSync(path.join(prefix, 'stderr.log')) ? readFileSync(path.join(prefix, 'stderr.log'), 'utf8') : '');
  try {
    for (const port of opts.ports) await waitForPort(port, proc, log);
  } catch (e) {
    proc.kill('SIGTERM');
    throw e;
  }

  const reloadCommand = `${base.map(shellWord).join(' ')} -s reload`;
  async function reload(): Promise<void> {
    const r = spawnSync('sh', ['-c', reloadCommand], { encoding: 'utf8', uid: opts.owner?.uid, gid: opts.owner?.gid });
    if (r.status !== 0) throw new Error(`nginx reload failed: ${r.stderr}`);
  }
  let stopped = false;
  return {
    prefix,
    conf,
    pidFile,
    errorLog,
    pid: proc.pid!,
    reloadCommand,
    reload,
    async setServers(servers) {
      writeFileSync(conf, mainConf(prefix, servers, opts.workers));
      await reload();
    },
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(proc, 'SIGTERM');
      rmSync(prefix, { recursive: true, force: true });
      dirs.delete(prefix);
    },
  };
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_\-./:=@%+,]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
}

/**
 * A server block from the project's own templates/nginx/site.conf (or another template),
 * filled in for a test host: `listen` is 127.0.0.1:<port>.
 */
export async function siteFromTemplate(
  vars: { app: string; deployTo: string; port: number; appPort?: number },
  template = 'nginx/site.conf',
): Promise<string> {
  const { readTemplate } = await import('../../src/commands/init.js');
  return readTemplate(template, {
    app: vars.app,
    deployTo: vars.deployTo,
    listen: `127.0.0.1:${vars.port}`,
    serverName: 'localhost',
    appPort: String(vars.appPort ?? 9),
  });
}

/** `nginx -t` on server blocks inside the harness's main config; returns nginx's verdict. */
export function checkNginxConfig(servers: string[]): { ok: boolean; output: string } {
  ensureNginx();
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'ship-nginx-t-'));
  try {
    mkdirSync(path.join(prefix, 'tmp'));
    mkdirSync(path.join(prefix, 'logs'));
    const conf = path.join(prefix, 'nginx.conf');
    writeFileSync(conf, mainConf(prefix, servers));
    // Site files include the distribution's snippets relative to the config dir, as in /etc/nginx.
    for (const f of ['fastcgi_params', 'proxy_params']) if (existsSync(`/etc/nginx/${f}`)) copyFileSync(`/etc/nginx/${f}`, path.join(prefix, f));
    const r = spawnSync(NGINX, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log'), '-t'], { encoding: 'utf8' });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/**
 * A throwaway PostgreSQL cluster for the migration tests.
 *
 *   const pg = await startPostgres();   // initdb in a temp dir, postgres on 127.0.0.1:<free port>
 *   pg.url                              // postgresql://postgres@127.0.0.1:<port>/postgres
 *   pg.createDatabase('app1')           // -> its URL
 *   pg.psql(url, 'select 1')            // -> stdout (tuples only, unaligned)
 *   await pg.stop()                     // also on process exit, SIGINT, SIGTERM
 *
 * The server runs as the unprivileged `postgres` user (created by the distribution's
 * package; apt-get installs it when initdb is missing), listens on 127.0.0.1 only, and
 * trusts local TCP connections: it exists for the length of one test process.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, Reaper } from './reaper.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PG_USER = 'postgres';

export interface Postgres {
  port: number;
  /** URL of the `postgres` database as superuser `postgres`. */
  url: string;
  dataDir: string;
  createDatabase(name: string): string;
  /** Runs SQL with psql; throws with psql's stderr on failure. Tuples only, `|`-separated. */
  psql(url: string, sql: string): string;
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(base, versions[0], 'bin');
  }
  const r = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return p ? path.dirname(p) : undefined;
}

function ensurePostgres(): string {
  let dir = binDir();
  if (!dir || !existsSync('/usr/bin/psql')) {
    const script = path.join(root, 'scripts/ensure-system.sh');
    if (existsSync(script)) spawnSync('bash', [script], { stdio: 'inherit' });
    dir = binDir();
    if (!dir) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      dir = binDir();
    }
  }
  if (!dir) throw new Error('postgres harness: initdb not found and postgresql could not be installed');
  return dir;
}

function ids(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}


// Immediate shutdown (SIGQUIT): the cluster is thrown away.
const reaper = new Reaper('SIGQUIT');
const { live, dirs: tmps } = reaper;

export async function startPostgres(): Promise<Postgres> {
  const bin = ensurePostgres();
  const asUser = ids(PG_USER);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-pg-'));
  tmps.add(tmp);
  chownSync(tmp, asUser.uid, asUser.gid);
  const dataDir = path.join(tmp, 'data');
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    ...asUser,
    cwd: tmp,
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`postgres harness: initdb failed:\n${init.stderr}${init.stdout}`);
  writeFileSync(path.join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  chownSync(path.join(dataDir, 'pg_hba.conf'), asUser.uid, asUser.gid);
  const log = path.join(tmp, 'postgres.log');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = spawn(
      path.join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', tmp, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { ...asUser, cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.on('data', (d: Buffer) => appendFileSync(log, d));
    proc.unref();
    (proc.stderr as unknown as { unref?: () => void }).unref?.();
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const ready = await waitReady(url, proc);
    if (!ready) {
      proc.kill('SIGQUIT');
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (attempt < 3 && /already in use/.test(text)) continue;
      throw new Error(`postgres harness: the server did not start:\n${text}`);
    }
    const psql = (u: string, sql: string): string => {
      const r = spawnSync('psql', [u, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
      return r.stdout.trim();
    };
    let stopped = false;
    return {
      port,
      url,
      dataDir,
      createDatabase(name: string) {
        psql(url, `create database "${name.replace(/"/g, '')}"`);
        return `postgresql://postgres@127.0.0.1:${port}/${name}`;
      },
      psql,
      async stop() {
        if (stopped) return;
        stopped = true;
        proc.kill('SIGINT'); // fast shutdown
        // The child is unref'd, so poll (a timer keeps the process alive until it is gone).
        for (let i = 0; i < 200 && proc.exitCode === null && proc.signalCode === null && alive(proc.pid); i++) await new Promise((r) => setTimeout(r, 50));
        rmSync(tmp, { recursive: true, force: true });
        tmps.delete(tmp);
      },
    };
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(url: string, proc: ChildProcess, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    const r = spawnSync('psql', [url, '-X', '-At', '-c', 'select 1'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '1') return true;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return false;
}

let shared: Promise<Postgres> | undefined;
/** One server per test process. */
export function sharedPostgres(): Promise<Postgres> {
  if (!shared) shared = startPostgres();
  return shared;
}

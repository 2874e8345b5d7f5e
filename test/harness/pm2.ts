/**
 * Real pm2 daemons for the app tests: one per emulated host, each with its own PM2_HOME
 * in a temp dir, running as `owner` (the sshd harness login user), so the stage's
 * `reload: pm2 reload <app>` works over SSH. Always killed (`pm2 kill`) at stop() and on
 * process exit.
 *
 *   const pm2 = await startPm2({ ecosystem: text, owner: { uid, gid }, waitPort: 4000 });
 *   pm2.home          // PM2_HOME, for the host's env in the stage config
 *   pm2.bin           // the pm2 executable (node_modules/.bin/pm2)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atExit } from './reaper.js';
import { randomBytes } from 'node:crypto';
import { freePort, type SshHosts } from './sshd.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PM2_BIN = path.join(root, 'node_modules/.bin/pm2');

/**
 * The pm2 executable as `owner` can run it: node_modules/.bin/pm2 when the owner can reach
 * it, else (a checkout under a directory only root may enter) a copy of node_modules in a
 * temp dir everyone can read, made once per process and removed at exit.
 */
let copied: string | undefined;
export function pm2BinFor(owner?: Owner): string {
  ensurePm2();
  if (!owner) return PM2_BIN;
  const pm2Main = path.join(root, 'node_modules/pm2/bin/pm2');
  if (spawnSync('test', ['-r', pm2Main, '-a', '-x', PM2_BIN], { uid: owner.uid, gid: owner.gid }).status === 0) return PM2_BIN;
  if (!copied) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ship-pm2-modules-'));
    chmodSync(dir, 0o755);
    const r = spawnSync('cp', ['-a', path.join(root, 'node_modules'), dir]);
    if (r.status !== 0) throw new Error(`pm2 harness: could not copy node_modules for ${owner.uid}: ${r.stderr}`);
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    copied = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return path.join(copied, 'node_modules/.bin/pm2');
}

export interface Pm2 {
  home: string;
  bin: string;
  /** Runs a pm2 command as the owner with this PM2_HOME. */
  run(args: string[]): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

interface Owner {
  uid: number;
  gid: number;
}

const homes = new Map<string, Owner | undefined>();
let handlersInstalled = false;

function pm2Sync(home: string, owner: Owner | undefined, args: string[]) {
  const r = spawnSync(pm2BinFor(owner), args, {
    encoding: 'utf8',
    uid: owner?.uid,
    gid: owner?.gid,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PM2_HOME: home, HOME: home, PM2_DISABLE_VERSION_CHECK: 'true' },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function killAllSync(): void {
  for (const [home, owner] of homes) {
    pm2Sync(home, owner, ['kill']);
    rmSync(home, { recursive: true, force: true });
  }
  homes.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  atExit(killAllSync);
}

export function ensurePm2(): void {
  if (!existsSync(PM2_BIN)) throw new Error(`pm2 harness: ${PM2_BIN} is missing: run npm install (pm2 is a devDependency)`);
}

/** Answers once GET http://127.0.0.1:<port>/healthz says 200. */
export async function waitHttp(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', () => resolve(0))
        .on('timeout', function (this: http.ClientRequest) {
          this.destroy();
        });
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`pm2 harness: nothing answers on 127.0.0.1:${port}/healthz`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a pm2 daemon with the apps of `ecosystem` (the text of an ecosystem.config.cjs). */
export async function startPm2(opts: { ecosystem: string; owner?: Owner; waitPort?: number }): Promise<Pm2> {
  ensurePm2();
  installHandlers();
  const home = mkdtempSync(path.join(os.tmpdir(), 'ship-pm2-'));
  chmodSync(home, 0o755);
  if (opts.owner) chownSync(home, opts.owner.uid, opts.owner.gid);
  homes.set(home, opts.owner);
  const file = path.join(home, 'ecosystem.config.cjs');
  writeFileSync(file, opts.ecosystem, { mode: 0o644 });
  const r = pm2Sync(home, opts.owner, ['start', file]);
  if (r.status !== 0) throw new Error(`pm2 start failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  if (opts.waitPort) await waitHttp(opts.waitPort);
  let stopped = false;
  return {
    home,
    bin: pm2BinFor(opts.owner),
    run: (args) => pm2Sync(home, opts.owner, args),
    async stop() {
      if (stopped) return;
      stopped = true;
      pm2Sync(home, opts.owner, ['kill']);
      rmSync(home, { recursive: true, force: true });
      homes.delete(home);
    },
  };
}

/**
 * The first two sshd hosts as an app stage behind nginx: each with a free nginx port, a
 * free app port, and its deploy dir in a fresh subdirectory of its deploy root.
 */
export async function appHosts(ssh: SshHosts, prefix: string) {
  const sub = `zd-${prefix}-${randomBytes(3).toString('hex')}`;
  return Promise.all(
    ssh.hosts.slice(0, 2).map(async (h, i) => ({
      name: `${prefix}-${h.name}`,
      ssh: h,
      port: await freePort(),
      appPort: await freePort(),
      deployTo: path.join(h.deployRoot, sub),
      i,
    })),
  );
}

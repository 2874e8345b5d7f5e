/**
 * A fleet for the rollout tests: the three real sshd hosts of test/harness/sshd.ts, each
 * with its own deployTo and, optionally, its own health app (fixtures/health-app) on a
 * free 127.0.0.1 port, running as the login user so the `reload` command (kill -HUP)
 * reaches it. The health check goes through each host's SSH connection (direct-tcpip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { sharedSshHosts, freePort, type SshHost, type SshHosts } from '../harness/sshd.js';
import { ROOT, ship, tmpDir, rmrf, writeConfig, writeTree, type ShipRun } from '../harness/ship.js';
import { fetchText } from '../harness/http.js';

const SERVER = path.join(ROOT, 'fixtures/health-app/server.mjs');

/** Makes the app reload; refuses (exit 3) when `<deployTo>.noreload` names the live VERSION. */
export const RELOAD =
  'if [ "$(cat "$SHIP_DEPLOY_TO.noreload" 2>/dev/null)" = "$(cat VERSION)" ]; then echo "reload refused for $(cat VERSION) on $SHIP_HOST" >&2; exit 3; fi; ' +
  'kill -HUP "$(cat "$SHIP_DEPLOY_TO.pid")"';

export interface FleetHost {
  name: string;
  ssh: SshHost;
  deployTo: string;
  appPort?: number;
}

export interface Fleet {
  ssh: SshHosts;
  dir: string;
  hosts: FleetHost[];
  /** Rewrites the build dir (dist/) with these files. */
  build(files: Record<string, string>): void;
  /** Rewrites ship.config.json with the stage `prod` over the fleet, merged with `stage`. */
  configure(stage?: Record<string, unknown>, top?: Record<string, unknown>): void;
  ship(...args: string[]): Promise<ShipRun>;
  current(h: FleetHost | number): string | undefined;
  next(h: FleetHost | number): string | undefined;
  history(h: FleetHost | number): Array<Record<string, any>>;
  read(h: FleetHost | number, rel: string): string | undefined;
  stop(): Promise<void>;
}

const apps = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of apps) p.kill('SIGTERM');
});

function startApp(ssh: SshHosts, port: number, root: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SERVER, '--port', String(port), '--root', root, '--pidfile', `${root}.pid`], {
      uid: ssh.uid,
      gid: ssh.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    apps.add(p);
    p.on('exit', () => apps.delete(p));
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.stdout!.on('data', (d) => {
      if (String(d).includes('listening')) resolve(p);
    });
    p.on('exit', (code) => reject(new Error(`health app exited ${code}: ${err}`)));
  });
}

export interface FleetOptions {
  /** Start a health app per host and configure reload + healthcheck (default true). */
  apps?: boolean;
  stage?: Record<string, unknown>;
  top?: Record<string, unknown>;
}

export async function startFleet(name: string, o: FleetOptions = {}): Promise<Fleet> {
  const ssh = await sharedSshHosts();
  const id = randomBytes(3).toString('hex');
  const dir = tmpDir(`ship-${name}-`);
  const hosts: FleetHost[] = ssh.hosts.map((h) => ({ name: h.name, ssh: h, deployTo: `${h.deployRoot}/${name}-${id}` }));
  const procs: ChildProcess[] = [];
  if (o.apps !== false) {
    for (const h of hosts) {
      h.appPort = await freePort();
      procs.push(await startApp(ssh, h.appPort, h.deployTo));
    }
  }
  const idx = (h: FleetHost | number) => (typeof h === 'number' ? hosts[h] : h);
  const link = (h: FleetHost | number, which: string) => {
    try {
      return readlinkSync(path.join(idx(h).deployTo, which)).replace(/^releases\//, '');
    } catch {
      return undefined;
    }
  };
  const fleet: Fleet = {
    ssh,
    dir,
    hosts,
    build(files) {
      rmrf(path.join(dir, 'dist'));
      writeTree(path.join(dir, 'dist'), files);
    },
    configure(stage = {}, top = {}) {
      writeConfig(dir, {
        app: name,
        build: { dir: 'dist' },
        keepReleases: 10,
        ssh: { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' },
        ...(o.apps !== false ? { reload: RELOAD } : {}),
        ...top,
        stages: {
          prod: {
            hosts: hosts.map((h) => ({
              name: h.name,
              host: h.ssh.host,
              port: h.ssh.port,
              user: h.ssh.user,
              deployTo: h.deployTo,
              ...(h.appPort ? { healthcheck: { url: `http://127.0.0.1:${h.appPort}/healthz`, contains: 'release={release}', retries: 4, interval: 100, timeout: 2000 } } : {}),
            })),
            ...stage,
          },
        },
      });
    },
    ship: (...args) => ship([...args, '--cwd', dir], { cwd: ROOT }),
    current: (h) => link(h, 'current'),
    next: (h) => link(h, 'next'),
    history(h) {
      const f = path.join(idx(h).deployTo, '.ship/history.jsonl');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    read(h, rel) {
      const f = path.join(idx(h).deployTo, rel);
      return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
    },
    async stop() {
      for (const p of procs) p.kill('SIGTERM');
      rmrf(dir);
      for (const h of hosts) {
        rmSync(h.deployTo, { recursive: true, force: true });
        rmSync(`${h.deployTo}.pid`, { force: true });
        rmSync(`${h.deployTo}.noreload`, { force: true });
      }
    },
  };
  fleet.build({ 'VERSION': 'v1\n' });
  fleet.configure(o.stage, o.top);
  return fleet;
}

/** The JSON events of a run, without `time`, of the given types. */
export function eventsOf(r: ShipRun, ...types: string[]): Array<Record<string, any>> {
  return r.events.filter((e) => types.includes(e.type));
}

/** Plain-text explanation of a run, for assertion messages. */
export function explain(r: ShipRun): string {
  const errs = r.events.filter((e) => e.type === 'error' || (e.type === 'log' && e.level === 'warn')).map((e) => e.message);
  return `exit ${r.code}\n${errs.join('\n')}\n${r.stderr.slice(-2000)}`;
}

/** What a host's app serves right now (through the loopback, as a load balancer would). */
export async function served(port: number): Promise<string> {
  const r = await fetchText(`http://127.0.0.1:${port}/healthz`);
  return `${r.status} ${r.body.trim()}`;
}

/** The release a command's summary names. */
export const release = (r: { events: Array<Record<string, any>> }) => r.events.find((e) => e.type === 'summary')?.release as string;

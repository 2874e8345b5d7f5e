/**
 * Builds configs and builds for tests over the real sshd hosts of test/harness/sshd.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { sharedSshHosts, type SshHosts } from './sshd.js';
import { tmpDir, writeConfig, writeTree } from './ship.js';

export { sharedSshHosts };

/** Host entries for the first `n` harness hosts, each deploying into <deployRoot>/<sub>. */
export function sshHosts(ssh: SshHosts, sub: string, n = ssh.hosts.length) {
  return ssh.hosts.slice(0, n).map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, deployTo: path.join(h.deployRoot, sub) }));
}

/** The ssh block every test config uses: the run's key and known_hosts, strict checking on. */
export function sshBlock(ssh: SshHosts) {
  return { privateKey: ssh.privateKey, knownHosts: ssh.knownHosts, strictHostKeyChecking: 'yes' as const };
}

/** A project dir with a config for one stage `test` over the harness hosts, and a build dir. */
export function project(ssh: SshHosts | undefined, sub: string, stage: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  const dir = tmpDir('ship-proj-');
  const config = {
    app: 'testapp',
    keepReleases: 5,
    ...(ssh ? { ssh: sshBlock(ssh) } : {}),
    ...top,
    stages: { test: { hosts: ssh ? sshHosts(ssh, sub) : ['local'], build: { dir: 'build' }, ...stage } },
  };
  writeConfig(dir, config);
  return { dir, build: path.join(dir, 'build'), config };
}

/** A build whose every file carries `version`, so a reader can tell a mixed set. */
export function writeBuild(buildDir: string, version: string, files = 5, extra: Record<string, string | Buffer> = {}) {
  const tree: Record<string, string | Buffer> = { 'VERSION': version, 'public/index.html': `<h1>${version}</h1>` };
  for (let i = 0; i < files; i++) tree[`lib/part${i}.txt`] = `${version}\n`;
  writeTree(buildDir, { ...tree, ...extra });
}

/** What a host's deploy root looks like, read from the file system (the hosts are on this machine). */
export function layout(deployTo: string) {
  const rel = (p: string) => path.join(deployTo, p);
  const releases = existsSync(rel('releases')) ? readdirSync(rel('releases')).sort() : [];
  const current = existsSync(rel('current')) || isLink(rel('current')) ? readlinkSync(rel('current')) : undefined;
  const history = existsSync(rel('.ship/history.jsonl'))
    ? readFileSync(rel('.ship/history.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : [];
  return { releases, current, locked: existsSync(rel('.ship/lock')), history };
}

export function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Writes files on a harness host's disk as its login user would own them (tests run as
 * root; the deploy user must still be able to write there).
 */
export function writeOwned(ssh: SshHosts, root: string, files: Record<string, string | Buffer>): void {
  writeTree(root, files);
  chownTree(ssh, root);
}

export function chownTree(ssh: SshHosts, p: string): void {
  execFileSync('chown', ['-R', `${ssh.uid}:${ssh.gid}`, p]);
}

/**
 * Kills the two-color app processes a test started (their pids in `<deployTo>/run/<color>.pid`,
 * as the fixtures' start commands write them), whatever state the test left them in.
 */
export function killColorApps(deployTos: Array<string | undefined>): void {
  for (const d of deployTos) {
    if (!d) continue;
    for (const c of ['blue', 'green']) {
      const f = path.join(d, 'run', `${c}.pid`);
      if (!existsSync(f)) continue;
      try {
        process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
}

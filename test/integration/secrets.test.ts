/**
 * Secrets over real sshd hosts: env and envFile values reach hooks without ever being on
 * a command line (an unprivileged user polling `ps` during a long hook never sees them),
 * envFile is parsed as dotenv and never run as shell code, and no value reaches output
 * or history.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHosts } from '../harness/sshd.js';
import { collect, rmrf, spawnShip } from '../harness/ship.js';
import { project, sharedSshHosts, sshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('secrets over ssh');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

/** `ps -eo args` as an unprivileged user (the harness's login user). */
function psArgs(uid: number, gid: number): Promise<string> {
  return new Promise((resolve) => {
    execFile('ps', ['-eo', 'args'], { uid, gid, maxBuffer: 16 << 20 }, (_e, stdout) => resolve(String(stdout ?? '')));
  });
}

test('env and envFile values: never in argv, hostile dotenv runs nothing, byte-exact in the hook, never in output or history', async () => {
  const sub = `secrets-${randomBytes(3).toString('hex')}`;
  const tag = randomBytes(4).toString('hex');
  const envSecret = `env-secret-${tag} with 'quote' and $(dollar)`;
  const root = path.join(ssh.hosts[0].deployRoot, sub);
  const pwned = path.join(root, 'pwned');
  const dotenv = [
    '# hostile values: each must arrive as data',
    `API_TOKEN=tok ENVFILE-${tag}`,
    `X=$(touch ${pwned}-x)`,
    `B=\`touch ${pwned}-b\``,
    `export Q="dq ${tag}\\n\\"esc\\" \\$HOME"`,
    `M='line1 ${tag}`,
    `line2 $(touch ${pwned}-m)'`,
    `; touch ${pwned}-semi`,
    '',
  ].join('\n');
  const expected: Record<string, string> = {
    API_TOKEN: `tok ENVFILE-${tag}`,
    X: `$(touch ${pwned}-x)`,
    B: `\`touch ${pwned}-b\``,
    Q: `dq ${tag}\n"esc" $HOME`,
    M: `line1 ${tag}\nline2 $(touch ${pwned}-m)`,
    ENV_SECRET: envSecret,
  };
  const dump = Object.keys(expected)
    .map((k) => `printf %s "$${k}" > "$SHIP_DEPLOY_TO/got.${k}"`)
    .join('; ');
  const p = project(ssh, sub, {
    hosts: sshHosts(ssh, sub, 1),
    env: { ENV_SECRET: envSecret },
    envFile: '.env',
    shared: { files: ['.env'] },
    hooks: { 'after:publish': [`${dump}; sleep 2.7`] },
  });
  dirs.push(p.dir);
  writeOwned(ssh, root, { 'shared/.env': dotenv });
  writeBuild(p.build, 'v1');

  const child = spawnShip(['deploy', 'test'], { cwd: p.dir });
  const done = collect(child, false);
  let finished = false;
  void done.then(() => (finished = true));
  const seen: string[] = [];
  let sawHook = false;
  while (!finished) {
    const text = await psArgs(ssh.uid, ssh.gid);
    if (text.includes('sleep 2.7')) sawHook = true;
    seen.push(text);
  }
  const r = await done;
  assert.is(r.code, 0, r.stderr);
  assert.ok(sawHook, 'ps was polled while the hook ran');
  const all = seen.join('\n');
  for (const needle of [`env-secret-${tag}`, `ENVFILE-${tag}`, `line1 ${tag}`, `dq ${tag}`]) {
    assert.not.ok(all.includes(needle), `a process's argv showed ${needle}`);
  }
  for (const [k, v] of Object.entries(expected)) {
    assert.is(readFileSync(path.join(root, `got.${k}`), 'utf8'), v, k);
  }
  for (const suffix of ['-x', '-b', '-m', '-semi']) assert.not.ok(existsSync(pwned + suffix), `dotenv value ran a command (${suffix})`);
  const history = readFileSync(path.join(root, '.ship/history.jsonl'), 'utf8');
  for (const text of [r.stdout, r.stderr, history]) {
    for (const needle of [tag]) assert.not.ok(text.includes(needle), `a secret reached output or history: ${text.slice(0, 400)}`);
  }
});

test.run();

/**
 * `--verbose` over real sshd hosts: every remote command ship runs on each host is shown
 * on stderr, as given (never the env wrapping), with its exit code and output, and the
 * changes to the host's files (the rename that flips `current`); the value of a planted
 * secret env variable never appears, even when a hook prints it. Without --verbose none
 * of those lines appear.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { layout, project, sharedSshHosts, writeBuild } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('--verbose');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

test('--verbose shows each remote command and its output per host, secrets redacted; without it, none', async () => {
  const sub = `verbose-${randomBytes(3).toString('hex')}`;
  const secret = `planted-${randomBytes(6).toString('hex')}`;
  const p = project(ssh, sub, {
    env: { API_KEY: secret },
    hooks: { 'after:publish': ['echo "key=$API_KEY" && echo to-stderr >&2'] },
  });
  dirs.push(p.dir);
  const roots = ssh.hosts.map((h) => path.join(h.deployRoot, sub));

  writeBuild(p.build, 'v1');
  const quiet = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(quiet.code, 0, quiet.stderr);
  const all = quiet.stdout + quiet.stderr;
  assert.not.match(all, secret);
  assert.not.match(all, /\$ echo "key=/, 'no command lines without --verbose');
  assert.not.match(all, / rename .* -> /);

  writeBuild(p.build, 'v2');
  const loud = await ship(['deploy', 'test', '--verbose'], { cwd: p.dir });
  assert.is(loud.code, 0, loud.stderr);
  const release = layout(roots[0]).current!;
  assert.ok(release, 'deployed');
  assert.not.match(loud.stdout + loud.stderr, secret);
  for (const [i, h] of ssh.hosts.entries()) {
    const mine = loud.stderr.split('\n').filter((l) => l.includes(`[${h.name}] `));
    const text = mine.join('\n');
    // The hook, as given (not the `export API_KEY=...` wrapping), its exit code, and its output with the value redacted.
    assert.match(text, `[${h.name}] $ echo "key=$API_KEY" && echo to-stderr >&2  (exit 0,`);
    assert.match(text, `[${h.name}]   | key=<redacted>`);
    assert.match(text, `[${h.name}]   ! to-stderr`);
    // The flip of current: a rename onto <deployTo>/current.
    assert.ok(mine.some((l) => l.includes(' rename ') && l.includes(`-> ${path.join(roots[i], 'current')}  (exit 0,`)), `${h.name}: the rename of current is shown:\n${text}`);
    assert.not.match(text, 'export API_KEY');
  }
  // --json --verbose: the same as `command` events.
  writeBuild(p.build, 'v3');
  const json = await ship(['deploy', 'test', '--verbose', '--json'], { cwd: p.dir });
  assert.is(json.code, 0, json.stderr);
  assert.not.match(json.stdout + json.stderr, secret);
  const cmds = json.events.filter((e) => e.type === 'command');
  const hook = cmds.filter((e) => e.command === 'echo "key=$API_KEY" && echo to-stderr >&2');
  assert.equal(hook.map((e) => [e.host, e.code, e.stdout, e.stderr]).sort(), ssh.hosts.map((h) => [h.name, 0, 'key=<redacted>\n', 'to-stderr\n']).sort());
  const plain = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(plain.code, 0, plain.stderr);
  assert.is(plain.events.filter((e) => e.type === 'command').length, 0, 'no command events without --verbose');
});

test.run();

/**
 * The one redaction pass over real sshd hosts: a hook that fails printing a secret env
 * value, an envFile value, a URL with credentials and an OSC 52 sequence (its command text
 * holding the URL too) — none of it reaches stdout, stderr, --json or the host's history;
 * `.ship/` is 0700 and history.jsonl 0600, and are narrowed when found wider.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SshHosts } from '../harness/sshd.js';
import { rmrf, ship } from '../harness/ship.js';
import { project, sharedSshHosts, sshHosts, writeBuild, writeOwned } from '../harness/stage.js';

let ssh: SshHosts;
const dirs: string[] = [];
const test = suite('redaction');
test.before(async () => {
  ssh = await sharedSshHosts();
});
test.after(() => dirs.forEach(rmrf));

const mode = (p: string) => statSync(p).mode & 0o777;

test('a failing hook: env, envFile and URL secrets and control sequences reach no output, --json or history; .ship 0700, history 0600', async () => {
  const sub = `redact-${randomBytes(3).toString('hex')}`;
  const tag = randomBytes(5).toString('hex');
  const envSecret = `envsecret-${tag}`;
  const fileSecret = `filesecret-${tag}`;
  const urlPass = `urlpass-${tag}`;
  const queryValue = `querytok-${tag}`;
  // The OSC 52 payload is made by the hook (upper-cased), so the hook's own text does not hold it.
  const clip = `CLIPBOARD-${tag.toUpperCase()}`;
  const root = path.join(ssh.hosts[0].deployRoot, sub);
  const url = `https://deployer:${urlPass}@127.0.0.1:9/hook?token=${queryValue}`;
  // Fails only on a build that carries FAIL; prints everything on stderr (what an error shows), the URL in its own text too.
  const hook = `if [ -f FAIL ]; then echo "env=$ENV_SECRET file=$FILE_SECRET url=${url}" >&2; printf '\\033]52;c;%s\\007\\033[2Jafter-osc\\n' "$(echo clipboard-${tag} | tr a-z A-Z)" >&2; exit 3; fi`;
  const p = project(ssh, sub, {
    hosts: sshHosts(ssh, sub, 1),
    env: { ENV_SECRET: envSecret },
    envFile: '.env',
    shared: { files: ['.env'] },
    hooks: { 'after:publish': [hook] },
  });
  dirs.push(p.dir);
  writeOwned(ssh, root, { 'shared/.env': `FILE_SECRET=${fileSecret}\n` });

  writeBuild(p.build, 'v1');
  const ok = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(ok.code, 0, ok.stderr);
  const meta = path.join(root, '.ship');
  const history = path.join(meta, 'history.jsonl');
  assert.is(mode(meta).toString(8), '700', '.ship/ after a deploy');
  assert.is(mode(history).toString(8), '600', 'history.jsonl after a deploy');
  // As an older ship left them: found wider, narrowed by the next run.
  chmodSync(meta, 0o755);
  chmodSync(history, 0o644);

  writeBuild(p.build, 'v2', 5, { FAIL: 'yes' });
  const plain = await ship(['deploy', 'test'], { cwd: p.dir });
  assert.is(plain.code, 1, plain.stderr);
  const json = await ship(['deploy', 'test', '--json'], { cwd: p.dir });
  assert.is(json.code, 1, json.stderr);
  const error = json.events.find((e) => e.type === 'error');
  assert.ok(error, json.stdout);

  const text = readFileSync(history, 'utf8');
  const outputs: Record<string, string> = {
    'stdout': plain.stdout,
    'stderr': plain.stderr,
    '--json stdout': json.stdout,
    '--json stderr': json.stderr,
    'history.jsonl': text,
  };
  for (const [where, out] of Object.entries(outputs)) {
    for (const needle of [envSecret, fileSecret, urlPass, queryValue, clip, '\x1b', '\x07']) {
      assert.not.ok(out.includes(needle), `${where} holds ${JSON.stringify(needle)}:\n${out.slice(0, 2000)}`);
    }
  }
  // Still says what failed, and where.
  assert.match(plain.stderr, 'hook after:publish');
  assert.match(plain.stderr, 'env=<redacted> file=<redacted>');
  assert.match(plain.stderr, 'https://***:***@127.0.0.1:9/hook?token=***');
  assert.match(plain.stderr, /^ +after-osc$/m, 'the text around a control sequence stays');
  assert.match(String(error!.message), 'env=<redacted> file=<redacted>');
  assert.ok(text.split('\n').some((l) => l.includes('"outcome":"failed"') && l.includes('hook after:publish')), text);
  assert.is(mode(meta).toString(8), '700', '.ship/ narrowed');
  assert.is(mode(history).toString(8), '600', 'history.jsonl narrowed');
});

test.run();

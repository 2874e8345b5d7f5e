/**
 * Command-line conventions of the built CLI (bin/ship.js → dist/): ship's own --version,
 * -h/-v/-q, --no-color and NO_COLOR on a real terminal, completion with the config's stage
 * names, helpful usage errors (exit 2, nothing changed), numeric flags that reject words.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, rmrf, tmpDir, writeTree } from '../harness/ship.js';

const test = suite('cli conventions');
const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));
const BIN = path.join(ROOT, 'bin/ship.js');
const VERSION = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;

function project(): string {
  const d = tmpDir('ship-cli-');
  dirs.push(d);
  writeTree(d, {
    'package.json': JSON.stringify({ name: 'user-app', version: '9.9.9' }),
    'dist/index.html': 'hi',
    'ship.config.json': JSON.stringify({ app: 'user-app', stages: { production: { hosts: ['local'], deployTo: './.ship/prod' }, staging: { hosts: ['local'], deployTo: './.ship/staging' } } }),
  });
  return d;
}

function ship(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', FORCE_COLOR: '', NO_COLOR: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** On a real terminal (a pty from script(1), 100 columns): stdout and stderr together. */
function onTerminal(args: string[], cwd: string, env: Record<string, string> = {}): string {
  const cmd = `stty cols 100 rows 40; exec ${[process.execPath, BIN, ...args].map((w) => `'${w}'`).join(' ')}`;
  const e: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
  delete e.CI;
  delete e.NO_COLOR;
  delete e.FORCE_COLOR;
  Object.assign(e, env);
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, encoding: 'utf8', env: e });
  return r.stdout;
}

const SGR = /\x1b\[[0-9;]*m/;

test('--version and -v print ship’s version, not the project’s; so does the yargs path', () => {
  const d = project();
  for (const args of [['--version'], ['-v'], ['--version', '--no-color']]) {
    const r = ship(args, d);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.trim(), VERSION, args.join(' '));
  }
});

test('-h shows the help with every command, -q is --quiet', () => {
  const d = project();
  const h = ship(['-h'], d);
  assert.is(h.code, 0, h.stderr);
  for (const c of ['deploy', 'rollback', 'releases', 'completion', 'init']) assert.match(h.stdout, `ship ${c}`);
  assert.match(h.stdout, '-q, --quiet');
  const q = ship(['deploy', 'production', '-q'], d);
  assert.is(q.code, 0, q.stderr);
  assert.not.match(q.stderr, 'upload', 'quiet: no step lines');
});

test('--no-color and NO_COLOR: no color codes on a terminal; colors otherwise', () => {
  const d = project();
  const colored = onTerminal(['deploy', 'production'], d);
  assert.ok(SGR.test(colored), 'a terminal gets colors by default');
  const text = colored.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(text, /✔ upload/, text);
  // What the plain reporter says stays: the switch target and the sent/reused counts.
  assert.match(text, /current → \d{14}/);
  assert.match(text, /✔ upload {2}local ✔ 1 sent, 0 reused/);
  const off = onTerminal(['deploy', 'production', '--no-color'], d);
  assert.match(off, /✔ upload/);
  assert.not.ok(SGR.test(off), JSON.stringify(off.slice(0, 400)));
  const env = onTerminal(['deploy', 'production'], d, { NO_COLOR: '1' });
  assert.match(env, /✔ upload/);
  assert.not.ok(SGR.test(env));
  // A step with nothing configured is skipped, not ticked.
  assert.match(off, /– reload skipped \(not configured\)/);
  assert.not.match(off, /✔ reload/);
});

test('ship completion: the script, then commands, flags and the config’s stage names', () => {
  const d = project();
  const script = ship(['completion'], d);
  assert.is(script.code, 0, script.stderr);
  assert.match(script.stdout, '--get-yargs-completions');
  const cmds = ship(['--get-yargs-completions', 'ship', 'de'], d);
  assert.ok(cmds.stdout.split('\n').includes('deploy'), cmds.stdout);
  const stages = ship(['--get-yargs-completions', 'ship', 'deploy', ''], d);
  assert.equal(stages.stdout.trim().split('\n').sort(), ['production', 'staging']);
  const st = ship(['--get-yargs-completions', 'ship', 'releases', 'st'], d);
  assert.equal(st.stdout.trim().split('\n'), ['staging']);
  const flags = ship(['--get-yargs-completions', 'ship', 'deploy', 'production', '--'], d);
  assert.ok(flags.stdout.split('\n').includes('--strategy'), flags.stdout);
});

test('usage errors name the word and suggest: unknown command, missing stage, misspelt flag', () => {
  const d = project();
  const cmd = ship(['deplyo', 'production'], d);
  assert.is(cmd.code, 2);
  assert.match(cmd.stderr, "unknown command 'deplyo'");
  assert.match(cmd.stderr, 'did you mean `ship deploy`');
  const none = ship(['deploy'], d);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'name a stage');
  assert.match(none.stderr, 'stages: production, staging');
  const bad = ship(['releases', 'prod'], d);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, "unknown stage 'prod'");
  assert.match(bad.stderr, 'production, staging');
  const flag = ship(['deploy', 'production', '--strategi', 'rolling'], d);
  assert.is(flag.code, 2);
  assert.match(flag.stderr, '--strategi');
  assert.match(flag.stderr, 'did you mean --strategy?');
  assert.not.ok(existsSync(path.join(d, '.ship')), 'nothing deployed');
});

test('numeric flags reject words: --lock-wait abc is exit 2 and changes nothing', () => {
  const d = project();
  for (const args of [['--lock-wait', 'abc'], ['--concurrency', 'many'], ['--batch', 'x', '--strategy', 'rolling']]) {
    const r = ship(['deploy', 'production', ...args], d);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, `${args[0]} takes a number`);
  }
  assert.not.ok(existsSync(path.join(d, '.ship')), 'nothing deployed');
});

test('queries print their table without a summary block; every --json line has a type', () => {
  const d = project();
  assert.is(ship(['deploy', 'production'], d).code, 0);
  const t = ship(['releases', 'production'], d);
  assert.is(t.code, 0, t.stderr);
  assert.match(t.stdout, /\* \d{14}\s+active\s+just now \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
  assert.not.match(t.stdout, 'ship releases production: ok');
  for (const args of [['releases', 'production'], ['status', 'production'], ['deploy', 'production'], ['check', 'production'], ['nope', 'x']]) {
    const r = ship([...args, '--json'], d);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.type(l.type, 'string', `${args.join(' ')}: ${JSON.stringify(l)}`);
    assert.is(lines.at(-1).type, 'summary', args.join(' '));
  }
  writeFileSync(path.join(d, 'x'), '');
});

test('completion never runs a JS/TS config: its stage names are read from its text', () => {
  for (const name of ['ship.config.mjs', 'ship.config.ts']) {
    const d = tmpDir('ship-cli-code-');
    dirs.push(d);
    const marker = path.join(d, 'CONFIG-RAN');
    writeTree(d, {
      'package.json': JSON.stringify({ name: 'user-app' }),
      [name]: [
        `import { writeFileSync } from 'node:fs';`,
        `writeFileSync(${JSON.stringify(marker)}, 'ran');`,
        `const local = { hosts: ['local'] };`,
        `export default {`,
        `  app: 'user-app', // stages: { nope: {} }`,
        `  stages: {`,
        `    production: { ...local, deployTo: './.ship/prod', env: { A: '}' } },`,
        `    'eu-west': { ...local, deployTo: \`./.ship/\${'eu'}\` },`,
        `    /* commented: {}, */ staging: local,`,
        `  },`,
        `};`,
      ].join('\n'),
    });
    const stages = ship(['--get-yargs-completions', 'ship', 'deploy', ''], d);
    assert.equal(stages.stdout.trim().split('\n').sort(), ['eu-west', 'production', 'staging'], name + stages.stderr);
    assert.not.ok(existsSync(marker), `${name} was run by a Tab press`);
    // A real command runs it, as before.
    const run = ship(['releases', 'production'], d);
    assert.ok(existsSync(marker), run.stderr);
  }
});

test('the config search stops at the project root: a config above the package is not read', () => {
  const outer = tmpDir('ship-cli-outer-');
  dirs.push(outer);
  writeTree(outer, {
    // Planted above the project (a shared /tmp, a parent directory someone else writes).
    'ship.config.json': JSON.stringify({ app: 'planted', stages: { production: { hosts: ['local'], deployTo: './planted' } } }),
    'app/package.json': JSON.stringify({ name: 'app' }),
    'app/src/index.js': '',
    'repo/.git/HEAD': 'ref: refs/heads/main\n',
    'repo/sub/dir/x': '',
  });
  for (const cwd of [path.join(outer, 'app'), path.join(outer, 'app/src'), path.join(outer, 'repo/sub/dir')]) {
    const r = ship(['releases', 'production'], cwd);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, `no ship config found from ${cwd} upward`);
    assert.not.ok(existsSync(path.join(outer, 'planted')));
    const c = ship(['--get-yargs-completions', 'ship', 'deploy', ''], cwd);
    assert.is(c.stdout.trim(), '', 'completion offers no stage of the planted config');
  }
});

test.run();

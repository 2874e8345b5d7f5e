/**
 * One root config for npm workspaces (fixtures/monorepo): `npm run deploy -w packages/<app>`
 * builds in that package, takes `app` from its package.json, fills `{app}`/`{stage}` in
 * deployTo, and applies `packages.<name>` from the root config. Run through the real npm.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { userEnv } from '../harness/pack.js';
import { ROOT, rmrf, tmpDir } from '../harness/ship.js';

const test = suite('monorepo');
const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));

/** The fixture in a temp dir, with `ship` on npm's PATH (node_modules/.bin) running this checkout's built CLI. */
function repo(): string {
  const d = tmpDir('ship-mono-');
  dirs.push(d);
  cpSync(path.join(ROOT, 'fixtures/monorepo'), d, { recursive: true });
  mkdirSync(path.join(d, 'node_modules/.bin'), { recursive: true });
  const bin = path.join(d, 'node_modules/.bin/ship');
  writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin/ship.js')}" "$@"\n`);
  chmodSync(bin, 0o755);
  return d;
}

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: userEnv() });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test('npm run deploy -w packages/web builds in the package and deploys it as `web`', () => {
  const d = repo();
  const r = npm(['run', 'deploy', '-w', 'packages/web'], d);
  assert.is(r.code, 0, r.out);
  const cur = path.join(d, '.ship/production/web/current');
  assert.match(readlinkSync(cur), /^releases\/\d{14}$/);
  assert.is(readFileSync(path.join(cur, 'index.html'), 'utf8'), `<h1>web</h1> built in ${path.join(d, 'packages/web')}\n`);
  assert.ok(existsSync(path.join(d, 'packages/web/dist/index.html')), 'the build ran in the package');
  assert.not.ok(existsSync(path.join(d, 'dist')), 'nothing built at the root');
  const hist = readFileSync(path.join(d, '.ship/production/web/.ship/history.jsonl'), 'utf8');
  assert.match(hist, /"action":"switch"/);
});

test('the other package: its own app name and the root config’s packages.api overrides', () => {
  const d = repo();
  const r = npm(['run', 'deploy', '-w', 'packages/api'], d);
  assert.is(r.code, 0, r.out);
  const cur = path.join(d, '.ship/production/api/current');
  assert.match(readFileSync(path.join(cur, 'server.js'), 'utf8'), /api built in .*packages\/api/);
  assert.not.ok(existsSync(path.join(d, '.ship/production/web')), 'the web app untouched');
  // npx from inside the package, another stage: {stage} fills in too.
  const s = spawnSync(path.join(d, 'node_modules/.bin/ship'), ['deploy', 'staging'], { cwd: path.join(d, 'packages/api'), encoding: 'utf8', env: userEnv() });
  assert.is(s.status, 0, s.stderr);
  assert.ok(existsSync(path.join(d, '.ship/staging/api/current/server.js')));
});

test('at the root, the root package is the app: its build directory, not a workspace package’s', () => {
  const d = repo();
  const s = spawnSync(path.join(d, 'node_modules/.bin/ship'), ['deploy', 'production', '--dry-run', '--json'], { cwd: d, encoding: 'utf8', env: userEnv() });
  assert.is(s.status, 1, s.stderr + s.stdout);
  assert.match(s.stdout, `build directory ${path.join(d, 'dist')} is missing`);
  assert.not.ok(existsSync(path.join(d, '.ship/production')));
});

test.run();

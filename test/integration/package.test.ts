/**
 * The npm package as a user gets it: packed from a copy of the sources without dist/ (so the
 * code is there only because `prepack` builds it), installed with npm into a scratch project
 * outside the repository, and run through `npx ship`: --version, init, a local deploy.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { installInto, packCopy, run, userEnv, type Packed } from '../harness/pack.js';
import { ROOT, rmrf } from '../harness/ship.js';

const test = suite('npm package');
const dirs: string[] = [];
let packed: Packed;
let app: string;
test.before(() => {
  packed = packCopy(dirs);
  app = installInto(
    packed.tarball,
    {
      name: 'shop-app',
      version: '1.0.0',
      private: true,
      scripts: { build: "node -e \"require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/index.html','<h1>shop</h1>')\"" },
    },
    dirs,
  );
});
test.after(() => dirs.forEach(rmrf));

const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };

test('the tarball holds the built code, bin, templates, schema and docs, and no source maps', () => {
  const f = packed.files;
  for (const must of ['bin/ship.js', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/config/load.js', 'templates/ship.config.ts', 'templates/nginx/site.conf', 'schema.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json']) {
    assert.ok(f.includes(must), `${must} is packed (files: ${f.slice(0, 20).join(', ')}…)`);
  }
  assert.equal(f.filter((p) => p.endsWith('.map')), [], 'no source maps pointing at sources that are not packed');
  assert.equal(f.filter((p) => p.startsWith('src/') || p.startsWith('test/')), [], 'no sources or tests');
  // Every relative import of the packed code is itself packed.
  const dangling: string[] = [];
  for (const js of f.filter((p) => p.startsWith('dist/') && p.endsWith('.js'))) {
    const text = readFileSync(path.join(packed.srcDir, js), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(js), m[1]));
      if (!f.includes(target)) dangling.push(`${js} → ${m[1]}`);
    }
  }
  assert.equal(dangling, []);
});

test('the package declares where it lives, its licence and a Node range its dependencies accept', () => {
  const pj = JSON.parse(readFileSync(path.join(packed.srcDir, 'package.json'), 'utf8'));
  assert.ok(pj.repository && pj.homepage && pj.bugs && pj.keywords?.length);
  assert.is(pj.engines.node, '^20.19.0 || >=22.12.0');
  assert.is(pj.dependencies.typescript, undefined, 'TypeScript is not a runtime dependency');
  assert.ok(pj.scripts.prepack, 'prepack builds');
});

test('npx ship --version prints ship’s version, not the project’s', () => {
  for (const flag of ['--version', '-v']) {
    const r = run('npx', ['--no-install', 'ship', flag], app);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), ours.version);
  }
  assert.not.ok(existsSync(path.join(app, 'node_modules/typescript')), 'installing ship brings no TypeScript');
});

test('npx ship init writes a config that loads, and a local deploy from it works', () => {
  const init = run('npx', ['--no-install', 'ship', 'init'], app);
  assert.is(init.status, 0, init.stderr + init.stdout);
  const cfg = readFileSync(path.join(app, 'ship.config.ts'), 'utf8');
  // The project depends on ship-deploy now, so the typed form is written and must resolve.
  assert.match(cfg, "from 'ship-deploy'");
  assert.match(readFileSync(path.join(app, '.gitignore'), 'utf8'), /^\.ship\/$/m);

  const d = run('npx', ['--no-install', 'ship', 'deploy', 'demo'], app);
  assert.is(d.status, 0, d.stderr + d.stdout);
  const cur = path.join(app, '.ship/demo/current');
  assert.match(readlinkSync(cur), /^releases\/\d{14}$/);
  assert.is(readFileSync(path.join(cur, 'index.html'), 'utf8'), '<h1>shop</h1>');
  // Only the config and .gitignore were written beside the project's own files: no transpiled config.
  assert.equal(readdirSync(app).filter((n) => n.includes('ship.config')), ['ship.config.ts']);

  const r = run('npx', ['--no-install', 'ship', 'releases', 'demo', '--json'], app);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.some((x) => x.state === 'active'));
});

test('the installed package exports defineConfig and its types', () => {
  writeFileSync(path.join(app, 'probe.mjs'), "import { defineConfig } from 'ship-deploy'; console.log(typeof defineConfig);\n");
  const r = run(process.execPath, ['probe.mjs'], app);
  assert.is(r.stdout.trim(), 'function', r.stderr);
  assert.ok(existsSync(path.join(app, 'node_modules/ship-deploy/dist/index.d.ts')));
});

/** A project dir holding ship.config.ts that imports a sibling ./hosts.ts, with TypeScript-only syntax in both. */
function tsProject(dir: string): void {
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'dist/index.html'), 'ts');
  writeFileSync(path.join(dir, 'hosts.ts'), "export type HostList = string[];\nexport const hosts: HostList = ['local'];\nexport enum Where { Demo = './.ship/ts' }\n");
  writeFileSync(
    path.join(dir, 'ship.config.ts'),
    "import { defineConfig } from 'ship-deploy';\nimport { hosts, Where } from './hosts.ts';\ninterface Extra { keep: number }\nconst extra: Extra = { keep: 2 };\n" +
      'export default defineConfig({ app: \'tsapp\', keepReleases: extra.keep, stages: { production: { hosts, deployTo: Where.Demo } } });\n',
  );
}

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

test('a project without TypeScript loads ship.config.ts importing ./hosts.ts, writing nothing beside it', () => {
  const d = path.join(app, 'ts-none');
  tsProject(d);
  const before = listing(d);
  chmodSync(d, 0o555);
  try {
    const r = run('npx', ['--no-install', 'ship', 'releases', 'production', '--json'], d, userEnv({ SHIP_TS_CACHE: '0' }));
    assert.is(r.status, 0, r.stderr + r.stdout);
    assert.equal(listing(d), before, 'nothing written beside the config');
    // Through the per-user cache too: it lives under the cache dir, not the project.
    const cache = path.join(app, 'user-cache');
    const c = run('npx', ['--no-install', 'ship', 'releases', 'production'], d, userEnv({ XDG_CACHE_HOME: cache }));
    assert.is(c.status, 0, c.stderr + c.stdout);
    assert.equal(listing(d), before, 'nothing written beside the config');
    assert.ok(readdirSync(path.join(cache, 'ship/ts')).length > 0, 'transpiled output cached per user');
  } finally {
    chmodSync(d, 0o755);
  }
  assert.not.ok(existsSync(path.join(app, 'node_modules/typescript')));
});

test('a TypeScript 7 project loads ship.config.ts importing ./hosts.ts', () => {
  const d = installInto(packed.tarball, { name: 'ts7-app', version: '3.0.0', private: true }, dirs, ['typescript@7']);
  const tsv = JSON.parse(readFileSync(path.join(d, 'node_modules/typescript/package.json'), 'utf8')).version as string;
  assert.match(tsv, /^7\./, 'the project has TypeScript 7');
  tsProject(d);
  const r = run('npx', ['--no-install', 'ship', 'deploy', 'production'], d);
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.is(readFileSync(path.join(d, '.ship/ts/current/index.html'), 'utf8'), 'ts');
  assert.equal(readdirSync(d).filter((n) => n.startsWith('ship.config')), ['ship.config.ts']);
});

test.run();

/** Where the config search looks: from the working directory up to the project root, no further. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { searchDirs, staticStageNames } from '../../src/config/load.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-search-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const home = path.join(tmp, 'home'); // a home that is no ancestor of the trees below
const tree = (files: Record<string, string>) => {
  const root = mkdtempSync(path.join(tmp, 't-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return root;
};

test('stops at the first package.json or .git going up', () => {
  const r = tree({ 'proj/package.json': '{}', 'proj/a/b/x': '', 'repo/.git/HEAD': '', 'repo/c/x': '' });
  assert.equal(searchDirs(path.join(r, 'proj/a/b'), home), [path.join(r, 'proj/a/b'), path.join(r, 'proj/a'), path.join(r, 'proj')]);
  assert.equal(searchDirs(path.join(r, 'repo/c'), home), [path.join(r, 'repo/c'), path.join(r, 'repo')]);
  assert.equal(searchDirs(path.join(r, 'proj'), home), [path.join(r, 'proj')]);
});

test('a workspace member’s search goes on to the workspace root that lists it, no further', () => {
  const r = tree({
    'mono/package.json': JSON.stringify({ workspaces: ['packages/*', '!packages/private'] }),
    'mono/packages/web/package.json': '{}',
    'mono/packages/web/src/x': '',
    'mono/packages/private/package.json': '{}',
    'mono/tools/cli/package.json': '{}',
    'yarn/package.json': JSON.stringify({ workspaces: { packages: ['apps/**'] } }),
    'yarn/apps/deep/one/package.json': '{}',
  });
  const m = (p: string) => path.join(r, 'mono', p);
  assert.equal(searchDirs(m('packages/web/src'), home), [m('packages/web/src'), m('packages/web'), m('packages'), m('.')].map((p) => path.resolve(p)));
  assert.equal(searchDirs(m('packages/private'), home), [m('packages/private')], 'a negated pattern is no member');
  assert.equal(searchDirs(m('tools/cli'), home), [m('tools/cli')], 'a package the workspaces do not list');
  assert.equal(searchDirs(path.join(r, 'yarn/apps/deep/one'), home).at(-1), path.join(r, 'yarn'));
});

test('with no project root, the search stops at home', () => {
  const h = path.join(tmp, 'h2');
  mkdirSync(path.join(h, 'a/b'), { recursive: true });
  assert.equal(searchDirs(path.join(h, 'a/b'), h), [path.join(h, 'a/b'), path.join(h, 'a'), h]);
});

test('staticStageNames reads the keys of the stages literal, never running the file', () => {
  const f = path.join(tmp, 'ship.config.ts');
  writeFileSync(f, `// stages: { comment: {} }\nexport default defineConfig({ app: 'x', stages: { "a-b": { env: { X: '}{' } }, c: [1, {d: 2}], /* e: 1, */ f: g(), ...more, 'h': {} } });\n`);
  assert.equal(staticStageNames(f), ['a-b', 'c', 'f', 'h']);
  assert.equal(staticStageNames(path.join(tmp, 'missing.ts')), []);
});

test.run();

/**
 * `ship init`: writes a starter config (ts, json or yaml) and the chosen server templates,
 * filled in for the project; refuses to overwrite without --force. The files it writes
 * load: the config through ship itself, the nginx sites through `nginx -t`, the pm2 file
 * through node.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkNginxConfig } from '../harness/nginx.js';
import { rmrf, ship, tmpDir } from '../harness/ship.js';

const test = suite('ship init');
const dirs: string[] = [];
test.after(() => dirs.forEach(rmrf));

function project(pkg: object | null = { name: '@acme/web-shop', version: '1.0.0' }): string {
  const d = tmpDir('ship-init-');
  dirs.push(d);
  if (pkg) writeFileSync(path.join(d, 'package.json'), JSON.stringify(pkg));
  return d;
}

function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(dir, path.join(rel, e.name)) : [path.join(rel, e.name)],
  );
}

test('writes the config and every template, filled in, and prints what it wrote', async () => {
  const d = project();
  const r = await ship(['init', '--template', 'nginx', 'pm2', 'systemd', 'php-fpm'], { cwd: d });
  assert.is(r.code, 0, r.stderr);
  const files = walk(d).filter((f) => f !== 'package.json').sort();
  assert.equal(files, [
    'deploy/maintenance.html',
    'deploy/nginx/web-shop.conf',
    'deploy/php-fpm/nginx.conf',
    'deploy/php-fpm/pool.conf',
    'deploy/pm2/ecosystem.config.cjs',
    'deploy/systemd/web-shop.service',
    'ship.config.ts',
  ]);
  for (const f of files) {
    assert.match(r.stdout, `wrote ${f}`);
    const text = readFileSync(path.join(d, f), 'utf8');
    assert.not.match(text, /\{\{\w+\}\}/, `${f}: every placeholder filled`);
  }
  const cfg = readFileSync(path.join(d, 'ship.config.ts'), 'utf8');
  assert.match(cfg, "app: 'web-shop'");
  assert.match(cfg, "deployTo: '/var/www/web-shop'");
  assert.not.match(cfg, 'ship-deploy', 'no import of a package the project lacks');

  // The config loads: ship reads it and runs a query on its demo stage.
  const rel = await ship(['releases', 'demo'], { cwd: d });
  assert.is(rel.code, 0, rel.stderr + rel.stdout);

  // The nginx sites are valid nginx (as rendered, listening on port 80).
  const site = readFileSync(path.join(d, 'deploy/nginx/web-shop.conf'), 'utf8');
  assert.match(site, 'root /var/www/web-shop/current/public;');
  assert.match(site, 'if (-f /var/www/web-shop/shared/maintenance.html)');
  assert.match(site, 'proxy_pass http://web-shop_app;');
  const n1 = checkNginxConfig([site]);
  assert.ok(n1.ok, n1.output);
  const php = readFileSync(path.join(d, 'deploy/php-fpm/nginx.conf'), 'utf8');
  assert.match(php, 'fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;');
  assert.match(php, 'fastcgi_param DOCUMENT_ROOT $realpath_root;');
  const n2 = checkNginxConfig([php]);
  assert.ok(n2.ok, n2.output);

  // The pm2 file loads and describes a cluster app run from current/.
  const eco = createRequire(import.meta.url)(path.join(d, 'deploy/pm2/ecosystem.config.cjs'));
  assert.is(eco.apps[0].name, 'web-shop');
  assert.is(eco.apps[0].cwd, '/var/www/web-shop/current');
  assert.is(eco.apps[0].exec_mode, 'cluster');

  const unit = readFileSync(path.join(d, 'deploy/systemd/web-shop.service'), 'utf8');
  assert.match(unit, 'WorkingDirectory=/var/www/web-shop/current');
});

test('refuses to overwrite without --force (exit 2, nothing changed); --force overwrites', async () => {
  const d = project();
  assert.is((await ship(['init', '--template', 'nginx'], { cwd: d })).code, 0);
  writeFileSync(path.join(d, 'ship.config.ts'), '// mine\nexport default { stages: { demo: { hosts: ["local"] } } };\n');
  const again = await ship(['init', '--template', 'nginx', 'pm2'], { cwd: d });
  assert.is(again.code, 2, again.stderr);
  assert.match(again.stderr, 'not overwriting');
  assert.match(again.stderr, 'ship.config.ts');
  assert.match(again.stderr, '--force');
  assert.match(readFileSync(path.join(d, 'ship.config.ts'), 'utf8'), '// mine');
  assert.not.ok(existsSync(path.join(d, 'deploy/pm2')), 'nothing written, not even the new files');

  const forced = await ship(['init', '--template', 'nginx', 'pm2', '--force'], { cwd: d });
  assert.is(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, 'wrote ship.config.ts (overwritten)');
  assert.not.match(readFileSync(path.join(d, 'ship.config.ts'), 'utf8'), '// mine');
  assert.ok(existsSync(path.join(d, 'deploy/pm2/ecosystem.config.cjs')));
});

test('--format json and yaml write configs that load; the app name falls back to the directory', async () => {
  for (const format of ['json', 'yaml']) {
    const d = project(null);
    const r = await ship(['init', '--format', format, '--json'], { cwd: d });
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.events.filter((e) => e.path).map((e) => e.path), [`ship.config.${format}`]);
    assert.is(r.events.at(-1)!.type, 'summary');
    const text = readFileSync(path.join(d, `ship.config.${format}`), 'utf8');
    assert.match(text, path.basename(d), text);
    const rel = await ship(['releases', 'demo'], { cwd: d });
    assert.is(rel.code, 0, `${format}: ${rel.stderr}`);
  }
});

test('an unknown template: exit 2 naming it and the known ones, nothing written', async () => {
  const d = project();
  const r = await ship(['init', '--template', 'nginx', 'apache'], { cwd: d });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'apache');
  assert.match(r.stderr, 'php-fpm');
  assert.equal(readdirSync(d), ['package.json']);
});

test.run();

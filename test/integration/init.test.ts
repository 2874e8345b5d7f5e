/**
 * `ship init`: writes a starter config (ts, json or yaml) and the chosen server templates,
 * filled in for the project; refuses to overwrite without --force. The files it writes
 * load: the config through ship itself, the nginx sites through `nginx -t`, the pm2 file
 * through node.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkNginxConfig } from '../harness/nginx.js';
import { ROOT, rmrf, ship, tmpDir } from '../harness/ship.js';

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
    '.gitignore',
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
    assert.equal(r.events.filter((e) => e.path).map((e) => e.path), [`ship.config.${format}`, '.gitignore']);
    assert.is(r.events.at(-1)!.type, 'summary');
    const text = readFileSync(path.join(d, `ship.config.${format}`), 'utf8');
    assert.match(text, path.basename(d), text);
    const rel = await ship(['releases', 'demo'], { cwd: d });
    assert.is(rel.code, 0, `${format}: ${rel.stderr}`);
  }
});

test('.ship/ is added to .gitignore once; the config names no file the project lacks', async () => {
  const d = project();
  writeFileSync(path.join(d, '.gitignore'), 'node_modules/\n/dist');
  const r = await ship(['init'], { cwd: d });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'added .ship/ to .gitignore');
  assert.is(readFileSync(path.join(d, '.gitignore'), 'utf8'), 'node_modules/\n/dist\n.ship/\n');
  const again = await ship(['init', '--force'], { cwd: d });
  assert.is(again.code, 0, again.stderr);
  assert.is(readFileSync(path.join(d, '.gitignore'), 'utf8'), 'node_modules/\n/dist\n.ship/\n', 'not added twice');
  for (const format of ['ts', 'json', 'yaml']) {
    const text = readFileSync(path.join(ROOT, `templates/ship.config.${format}`), 'utf8');
    // Files it may name: only those ship init writes (deploy/… with --template) or the build's.
    for (const m of text.matchAll(/[\w./-]+\.(?:md|conf|json|cjs|service|html)\b/g)) assert.unreachable(`ship.config.${format} names ${m[0]}`);
  }
});

test('a second config file: ship init warns, naming both and the one ship uses', async () => {
  const d = project();
  assert.is((await ship(['init'], { cwd: d })).code, 0);
  const r = await ship(['init', '--format', 'json'], { cwd: d });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /several config files .*ship\.config\.json.*ship\.config\.ts.*ship uses ship\.config\.ts/);
  // And every command that loads the config says so too.
  const rel = await ship(['releases', 'demo'], { cwd: d });
  assert.is(rel.code, 0, rel.stderr);
  assert.match(rel.stderr, /several config files.*ship uses ship\.config\.ts/);
});

test('JSON and YAML configs point at the JSON Schema of the installed ship', async () => {
  const d = project();
  const pkgDir = path.join(d, 'node_modules/ship-deploy');
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(path.join(ROOT, 'schema.json'), path.join(pkgDir, 'schema.json'));
  mkdirSync(path.join(d, 'json'));
  mkdirSync(path.join(d, 'yaml'));
  assert.is((await ship(['init', '--format', 'json'], { cwd: path.join(d, 'json') })).code, 0);
  assert.is((await ship(['init', '--format', 'yaml'], { cwd: path.join(d, 'yaml') })).code, 0);
  const json = JSON.parse(readFileSync(path.join(d, 'json/ship.config.json'), 'utf8'));
  assert.is(json.$schema, '../node_modules/ship-deploy/schema.json');
  assert.match(readFileSync(path.join(d, 'yaml/ship.config.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\.\.\/node_modules\/ship-deploy\/schema\.json\n/);
  // The schema is the config's: it knows the keys and the config with $schema still loads.
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema.json'), 'utf8'));
  for (const k of ['app', 'deployTo', 'stages', 'hooks', 'strategy']) assert.ok(schema.properties[k], k);
  assert.is(schema.additionalProperties, false);
  const rel = await ship(['releases', 'demo'], { cwd: path.join(d, 'json') });
  assert.is(rel.code, 0, rel.stderr);
});

test('ship init --help and the README list every template set, each made of files in templates/', async () => {
  const { TEMPLATE_SETS } = await import('../../src/commands/init.js');
  // A set's first file names it (nginx-bluegreen.conf, php-fpm/…); files a set carries beside it
  // (the router helper, the maintenance page) are no set of their own, but must exist.
  const carried = new Set(Object.values(TEMPLATE_SETS).flatMap((files) => files.slice(1).map((f) => f.from)));
  for (const f of Object.values(TEMPLATE_SETS).flat()) assert.ok(existsSync(path.join(ROOT, 'templates', f.from)), `templates/${f.from} is missing`);
  const onDisk = readdirSync(path.join(ROOT, 'templates'))
    .filter((f) => !f.startsWith('ship.config.') && !carried.has(f))
    .map((f) => f.replace(/\.conf$/, ''))
    .sort();
  assert.equal(Object.keys(TEMPLATE_SETS).sort(), onDisk, 'a template in templates/ that ship init cannot write, or a set without its files');
  const help = await ship(['init', '--help'], { cwd: project() });
  assert.is(help.code, 0, help.stderr);
  const described = /templates to copy: ([^[\n]+)/.exec(help.stdout.replace(/\s*\n\s+/g, ' '))?.[1] ?? '';
  assert.equal(described.split(/,\s*/).map((s) => s.trim()).sort(), onDisk, help.stdout);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const listed = /^ship init +\[--template ([^\]]+)\]/m.exec(readme)?.[1] ?? '';
  assert.equal(listed.split(' ').sort(), onDisk, 'the README\'s command list');
});

test('an unknown template: exit 2 naming it and the known ones, nothing written', async () => {
  const d = project();
  const r = await ship(['init', '--template', 'nginx', 'apache'], { cwd: d });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'apache');
  assert.match(r.stderr, 'php-fpm');
  assert.equal(readdirSync(d), ['package.json']);
});

test('a PHP project (composer.json, even with a package.json) gets a PHP config in every format: Composer build, php-fpm reload, nothing of Node', async () => {
  for (const format of ['ts', 'json', 'yaml']) {
    const d = project({ name: 'shop-assets', private: true, scripts: { build: 'vite build' } });
    writeFileSync(path.join(d, 'composer.json'), JSON.stringify({ name: 'acme/shop', require: { php: '>=8.2' } }));
    const r = await ship(['init', '--format', format], { cwd: d });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, 'a PHP (php-fpm) project (composer.json)');
    const text = readFileSync(path.join(d, `ship.config.${format}`), 'utf8');
    assert.match(text, 'composer install --no-dev --optimize-autoloader', `${format}: ${text}`);
    assert.match(text, 'systemctl reload php8.2-fpm');
    assert.not.match(text, /NODE_ENV|pm2/, format);
    assert.match(text, /app: '?shop'?|"app": "shop"/, `${format}: the app is named after composer.json`);
    const rel = await ship(['releases', 'demo'], { cwd: d });
    assert.is(rel.code, 0, `${format}: ${rel.stderr}`);
  }
  // A Node project stays Node.
  const node = project();
  assert.is((await ship(['init'], { cwd: node })).code, 0);
  assert.match(readFileSync(path.join(node, 'ship.config.ts'), 'utf8'), 'npm run build');
});

test('the PHP config deploys: its build copies the project (no Composer without composer.json), without deploy/ or .ship/', async () => {
  const d = project(null);
  mkdirSync(path.join(d, 'public'));
  writeFileSync(path.join(d, 'public/index.php'), '<?php echo "hi";\n');
  const r = await ship(['init', '--template', 'php-fpm', '--format', 'json'], { cwd: d });
  assert.is(r.code, 0, r.stderr);
  const dep = await ship(['deploy', 'demo'], { cwd: d });
  assert.is(dep.code, 0, dep.stderr + dep.stdout);
  const cur = path.join(d, '.ship/demo/current');
  assert.is(readFileSync(path.join(cur, 'public/index.php'), 'utf8'), '<?php echo "hi";\n');
  for (const p of ['deploy', '.ship', 'ship.config.json']) assert.is(existsSync(path.join(cur, p)), p === 'ship.config.json', p);
});

test('the PHP config deploys a Composer project: vendor/ with an optimized autoloader in the release, none in the project', async () => {
  const d = project(null);
  writeFileSync(path.join(d, 'composer.json'), JSON.stringify({ name: 'acme/greeter', require: { php: '>=8.2' }, autoload: { 'psr-4': { 'App\\': 'src/' } } }));
  mkdirSync(path.join(d, 'src'));
  mkdirSync(path.join(d, 'public'));
  writeFileSync(path.join(d, 'src/Greeter.php'), '<?php\nnamespace App;\nfinal class Greeter { public static function hello(): string { return "hello from Greeter"; } }\n');
  writeFileSync(path.join(d, 'public/index.php'), "<?php\nrequire __DIR__ . '/../vendor/autoload.php';\necho App\\Greeter::hello();\n");
  assert.is((await ship(['init', '--format', 'yaml'], { cwd: d })).code, 0);
  const dep = await ship(['deploy', 'demo'], { cwd: d, env: { COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_HOME: path.join(d, '.composer-home') } });
  assert.is(dep.code, 0, dep.stderr + dep.stdout);
  const cur = path.join(d, '.ship/demo/current');
  // --optimize-autoloader: the class is in the class map, not found by PSR-4 at run time.
  assert.match(readFileSync(path.join(cur, 'vendor/composer/autoload_classmap.php'), 'utf8'), "'App\\\\Greeter' => $baseDir . '/src/Greeter.php'");
  const run = spawnSync('php', [path.join(cur, 'public/index.php')], { encoding: 'utf8' });
  assert.is(run.stdout, 'hello from Greeter', run.stderr);
  assert.not.ok(existsSync(path.join(d, 'vendor')), "the project's own vendor/ is left alone");
});

test.run();

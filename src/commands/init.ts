import { existsSync, promises as fs } from 'node:fs';
import type { Printer } from '../reporters/rows.js';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import type { CommandOptions, CommandResult } from '../run-command.js';
import { SEARCH_PLACES, shadowedConfigs } from '../config/load.js';
import { ShipError, UsageError } from '../errors.js';

/** templates/ of ship's package. */
export const TEMPLATES_DIR = path.join(packageRoot(), 'templates');

export const CONFIG_FORMATS = ['ts', 'json', 'yaml'] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

/** What each `--template` name writes: template file → path in the project. */
export const TEMPLATE_SETS: Record<string, Array<{ from: string; to: string }>> = {
  nginx: [
    { from: 'nginx/site.conf', to: 'deploy/nginx/{{app}}.conf' },
    { from: 'maintenance.html', to: 'deploy/maintenance.html' },
  ],
  pm2: [{ from: 'pm2/ecosystem.config.cjs', to: 'deploy/pm2/ecosystem.config.cjs' }],
  systemd: [{ from: 'systemd/app.service', to: 'deploy/systemd/{{app}}.service' }],
  'nginx-bluegreen': [
    { from: 'nginx-bluegreen.conf', to: 'deploy/nginx/{{app}}-bluegreen.conf' },
    { from: 'nginx-bluegreen-router.sh', to: 'deploy/nginx/ship-nginx-router.sh' },
    { from: 'maintenance.html', to: 'deploy/maintenance.html' },
  ],
  'php-fpm': [
    { from: 'php-fpm/nginx.conf', to: 'deploy/php-fpm/nginx.conf' },
    { from: 'php-fpm/pool.conf', to: 'deploy/php-fpm/pool.conf' },
    { from: 'maintenance.html', to: 'deploy/maintenance.html' },
  ],
};

export interface TemplateVars {
  app: string;
  deployTo: string;
  listen: string;
  serverName: string;
  appPort: string;
  user: string;
  phpSocket: string;
  /** The app's name in nginx upstream and variable names (letters, digits, _). */
  appVar: string;
}

/** `{{name}}` → vars[name]; unknown names stay as they are. */
export function renderTemplate(text: string, vars: Partial<TemplateVars>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    const v = (vars as Record<string, string | undefined>)[k];
    return v === undefined ? m : v;
  });
}

/** Reads a file of templates/ and fills it in. */
export async function readTemplate(rel: string, vars: Partial<TemplateVars>): Promise<string> {
  return renderTemplate(await fs.readFile(path.join(TEMPLATES_DIR, rel), 'utf8'), vars);
}

/** A name usable in file names, nginx upstream names and YAML: `@acme/web app` → `web-app`. */
export function appSlug(name: string): string {
  const s = name
    .replace(/^@[^/]+\//, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return s || 'app';
}

export function defaultVars(app: string): TemplateVars {
  const slug = appSlug(app);
  return {
    app: slug,
    deployTo: `/var/www/${slug}`,
    listen: '80',
    serverName: `${slug}.example.com`,
    appPort: '3000',
    user: 'deploy',
    phpSocket: `/run/php/${slug}.sock`,
    appVar: slug.replace(/[^A-Za-z0-9_]/g, '_'),
  };
}

export interface InitOptions {
  templates?: string[];
  force?: boolean;
  format?: ConfigFormat;
}

interface PlannedWrite {
  path: string;
  rel: string;
  content: string;
  template: string;
}

/**
 * `ship init [--template nginx pm2 systemd php-fpm] [--format ts|json|yaml] [--force]`:
 * writes a starter config and the chosen server templates into the working directory.
 * Refuses (exit 2, nothing written) when a file it would write exists, unless --force.
 */
export async function init(o: CommandOptions, opts: InitOptions = {}, print?: Printer): Promise<CommandResult> {
  const t0 = Date.now();
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const format = opts.format ?? 'ts';
  if (!CONFIG_FORMATS.includes(format)) throw new UsageError(`unknown config format '${format}'`, { hint: `one of: ${CONFIG_FORMATS.join(', ')}` });
  const names = [...new Set((opts.templates ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean))];
  const unknown = names.filter((n) => !TEMPLATE_SETS[n]);
  if (unknown.length) {
    throw new UsageError(`unknown template${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { hint: `templates: ${Object.keys(TEMPLATE_SETS).join(', ')}` });
  }
  const st = await fs.stat(cwd).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`${cwd} is not a directory`);

  const pkg = await readPackageJson(cwd);
  const composer = await readComposerJson(cwd);
  const kind = projectKind({ composer: !!composer, templates: names });
  const vars = defaultVars((kind === 'php' ? composerName(composer?.name) ?? pkg?.name : pkg?.name) ?? path.basename(cwd));
  const writes: PlannedWrite[] = [];
  const configName = `ship.config.${format}`;
  let config = await readTemplate(kind === 'php' ? `php-fpm/${configName}` : configName, vars);
  if (format === 'ts' && !dependsOnShip(pkg)) {
    // Without ship-deploy among the project's packages the import would not resolve: a plain object.
    config = config
      .replace(/^import \{ defineConfig \} from 'ship-deploy';\n\n/m, '')
      .replace('export default defineConfig({', 'export default {')
      .replace(/\}\);\s*$/, '};\n');
  }
  if (format !== 'ts') config = withSchemaRef(config, format, cwd);
  writes.push({ path: path.join(cwd, configName), rel: configName, content: config, template: 'config' });
  for (const name of names) {
    for (const f of TEMPLATE_SETS[name]) {
      const rel = renderTemplate(f.to, vars);
      if (writes.some((w) => w.rel === rel)) continue;
      writes.push({ path: path.join(cwd, rel), rel, content: await readTemplate(f.from, vars), template: name });
    }
  }

  const existing = writes.filter((w) => existsSync(w.path));
  if (existing.length && !opts.force) {
    throw new UsageError(`not overwriting ${existing.map((w) => w.rel).join(', ')} in ${cwd}`, {
      reason: 'exists',
      hint: 'pass --force to overwrite, or move the file aside',
    });
  }
  for (const w of writes) {
    await fs.mkdir(path.dirname(w.path), { recursive: true });
    try {
      await fs.writeFile(w.path, w.content, { flag: opts.force ? 'w' : 'wx' });
    } catch (e) {
      throw new ShipError(`could not write ${w.path}: ${(e as Error).message}`, { reason: 'init' });
    }
  }
  const rows: object[] = writes.map((w) => ({ type: 'file', path: w.rel, template: w.template, overwritten: existing.includes(w) }));
  const lines = writes.map((w) => `wrote ${w.rel}${existing.includes(w) ? ' (overwritten)' : ''}`);
  const ignored = await ignoreShipDir(cwd);
  if (ignored) {
    rows.push({ type: 'file', path: '.gitignore', template: 'gitignore', overwritten: false });
    lines.push(ignored === 'created' ? 'wrote .gitignore (ignores .ship/)' : 'added .ship/ to .gitignore');
  }
  const configs = otherConfigs(cwd, configName);
  if (configs.length) {
    const used = [...configs, configName].sort((a, b) => SEARCH_PLACES.indexOf(a) - SEARCH_PLACES.indexOf(b))[0];
    const msg = `several config files in ${cwd}: ${[configName, ...configs].join(', ')}; ship uses ${used}`;
    o.events?.warn(msg);
    rows.push({ type: 'warning', message: msg });
  }
  const next = names.length ? `\nServer files are under deploy/: each starts with how to install it.` : '';
  rows.unshift({ type: 'project', kind, why: kindReason(kind, !!composer, names) });
  lines.unshift(`a ${kind === 'php' ? 'PHP (php-fpm)' : 'Node'} project (${kindReason(kind, !!composer, names)})`);
  print?.(rows, `${lines.join('\n')}\nNext: set your hosts in ${configName}, then \`ship check production\`.${next}`);
  o.events?.outcome({ command: 'init', stage: '', ms: Date.now() - t0 });
  return { exitCode: 0 };
}

/** `.ship/` (the demo stage's deploys, local state) kept out of git: appended to .gitignore, made if missing. */
async function ignoreShipDir(cwd: string): Promise<'created' | 'added' | undefined> {
  const file = path.join(cwd, '.gitignore');
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text !== undefined && /^\/?\.ship\/?\s*$/m.test(text)) return undefined;
  await fs.writeFile(file, `${text ?? ''}${text && !text.endsWith('\n') ? '\n' : ''}.ship/\n`);
  return text === undefined ? 'created' : 'added';
}

/** Config files other than `name` that ship would find in `dir`. */
function otherConfigs(dir: string, name: string): string[] {
  return shadowedConfigs(path.join(dir, name)).map((f) => path.basename(f));
}

/**
 * JSON and YAML configs name the config's JSON Schema for editors, when the project has
 * ship installed where the reference can point (node_modules/ship-deploy/schema.json here or
 * in a parent directory, as workspaces hoist it); otherwise no reference to a missing file.
 */
function withSchemaRef(config: string, format: 'json' | 'yaml', cwd: string): string {
  let ref: string | undefined;
  for (let d = cwd; ; d = path.dirname(d)) {
    const f = path.join(d, 'node_modules', 'ship-deploy', 'schema.json');
    if (existsSync(f)) {
      ref = path.relative(cwd, f).split(path.sep).join('/');
      if (!ref.startsWith('.')) ref = `./${ref}`;
      break;
    }
    if (path.dirname(d) === d) break;
  }
  if (!ref) return config;
  return format === 'json' ? config.replace(/^\{\n/, `{\n  "$schema": ${JSON.stringify(ref)},\n`) : `# yaml-language-server: $schema=${ref}\n${config}`;
}

async function readPackageJson(dir: string): Promise<{ name?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> } | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Which config `ship init` writes: a PHP one (Composer build, php-fpm reload; see
 * docs/zero-downtime.md, "PHP and php-fpm") when the project has a composer.json or
 * `--template php-fpm` is asked for, else a Node one. A PHP project with a package.json
 * (Laravel's Vite assets) is still PHP: composer.json decides.
 */
export function projectKind(o: { composer: boolean; templates: string[] }): 'php' | 'node' {
  return o.composer || o.templates.includes('php-fpm') ? 'php' : 'node';
}

function kindReason(kind: 'php' | 'node', composer: boolean, templates: string[]): string {
  if (kind === 'node') return 'no composer.json';
  return composer ? 'composer.json' : '--template php-fpm';
}

async function readComposerJson(dir: string): Promise<{ name?: string } | undefined> {
  const text = await fs.readFile(path.join(dir, 'composer.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return {}; // a composer.json there says PHP, even one that does not parse
  }
}

/** `acme/shop` → `shop` (Composer names are vendor/package). */
function composerName(name: string | undefined): string | undefined {
  return name?.split('/').pop() || undefined;
}

function dependsOnShip(pkg: Awaited<ReturnType<typeof readPackageJson>>): boolean {
  return !!(pkg?.dependencies?.['ship-deploy'] ?? pkg?.devDependencies?.['ship-deploy']);
}

import { cosmiconfig } from 'cosmiconfig';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { ConfigError, UsageError, type ConfigProblem } from '../errors.js';
import { configSchema, toMs, type HostInput, type ShipConfigInput, type StageInput } from './schema.js';
import type { Healthcheck, HostConfig, SharedUpload, SshOptions, Stage } from './types.js';
import { resolveColors, resolveWeighted } from '../colors/config.js';
// A cycle by design (steps import config helpers): the rules read the flows only at run time.
import { hookRules, hostNameRules, lockRules, sharedRules } from './rules.js';

/** Where the config is looked for, in each directory from the working directory upward. */
export const SEARCH_PLACES = [
  'package.json',
  '.shiprc',
  '.shiprc.json',
  '.shiprc.yaml',
  '.shiprc.yml',
  '.shiprc.js',
  '.shiprc.mjs',
  '.shiprc.cjs',
  '.shiprc.ts',
  'ship.config.js',
  'ship.config.mjs',
  'ship.config.cjs',
  'ship.config.ts',
  'ship.config.mts',
  'ship.config.cts',
  'ship.config.json',
  'ship.config.yaml',
];

/** TypeScript configs load with ship's own loader, never the project's TypeScript. */
const tsLoader = async (file: string): Promise<unknown> => (await import('./ts-loader.js')).loadTsConfig(file);
const TS_LOADERS = { '.ts': tsLoader, '.mts': tsLoader, '.cts': tsLoader };

/** What a config that is code stands for when it must not run (completion): its file only. */
const CODE = Symbol('ship.codeConfig');
const notRun = (): unknown => ({ [CODE]: true });
const NO_CODE_LOADERS = Object.fromEntries(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'].map((x) => [x, notRun]));

export interface LoadOptions {
  cwd?: string;
  /** An explicit config file (--config). */
  configFile?: string;
  /** Never run a JS/TS config (shell completion): such a config is a UsageError with reason 'code-config'. */
  noCode?: boolean;
}

export interface LoadedConfig {
  file: string;
  dir: string;
  raw: ShipConfigInput;
  stageNames: string[];
  /** Other config files in the same directory, which ship does not read (`file` wins). */
  shadowed?: string[];
  /** What loading it had to say (an untrusted TypeScript cache directory). */
  warnings?: string[];
  /** The merged, checked config of one stage; UsageError (exit 2) when unknown. */
  stage(name: string): Stage;
}

/** For typed configs: `export default defineConfig({ … })`. */
export function defineConfig(config: ShipConfigInput): ShipConfigInput {
  return config;
}

/**
 * The directories the config is looked for in, nearest first: from `cwd` up to the project
 * root and no further (README, "Config"). The project root is the first directory going up
 * with a `.git`, or with a `package.json` — unless that package is a member of a workspace
 * (a `package.json` above it, up to the next `.git`, whose `workspaces` names it): then the
 * workspace root. With neither, the search stops at the home directory (or `/`).
 */
export function searchDirs(cwd: string, home = os.homedir()): string[] {
  const dirs: string[] = [];
  let stop: string | undefined;
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    dirs.push(d);
    if (d === stop) break;
    if (!stop) {
      if (existsSync(path.join(d, '.git'))) break;
      if (existsSync(path.join(d, 'package.json'))) {
        stop = workspaceRootOf(d, home);
        if (!stop) break;
      }
    }
    if (d === home || path.dirname(d) === d) break;
  }
  return dirs;
}

/** The workspace root above package directory `pkg` whose `workspaces` lists it, if any (up to the next `.git`). */
function workspaceRootOf(pkg: string, home: string): string | undefined {
  for (let d = path.dirname(pkg); ; d = path.dirname(d)) {
    const patterns = workspacePatterns(path.join(d, 'package.json'));
    if (patterns.length) {
      const rel = path.relative(d, pkg).split(path.sep).join('/');
      const norm = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '');
      const yes = patterns.filter((p) => !p.startsWith('!')).map(norm);
      const no = patterns.filter((p) => p.startsWith('!')).map((p) => norm(p.slice(1)));
      if (yes.length && picomatch(yes)(rel) && !(no.length && picomatch(no)(rel))) return d;
    }
    if (existsSync(path.join(d, '.git')) || d === home || path.dirname(d) === d) return undefined;
  }
}

/** `workspaces` of a package.json (npm/yarn: an array, or `{ packages: [...] }`); [] when none. */
function workspacePatterns(file: string): string[] {
  try {
    const w = (JSON.parse(readFileSync(file, 'utf8')) as { workspaces?: unknown }).workspaces;
    const list = Array.isArray(w) ? w : w && typeof w === 'object' && Array.isArray((w as { packages?: unknown }).packages) ? (w as { packages: unknown[] }).packages : [];
    return list.filter((x): x is string => typeof x === 'string');
  } catch {
    return [];
  }
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const explorer = cosmiconfig('ship', { searchStrategy: 'none', searchPlaces: SEARCH_PLACES, loaders: opts.noCode ? NO_CODE_LOADERS : TS_LOADERS });
  let found: { config: unknown; filepath: string; isEmpty?: boolean } | null = null;
  const dirs = opts.configFile ? [] : searchDirs(cwd);
  try {
    if (opts.configFile) found = await explorer.load(path.resolve(cwd, opts.configFile));
    else for (const d of dirs) if ((found = await explorer.search(d)) && !found.isEmpty) break;
  } catch (e) {
    const where = opts.configFile ? path.resolve(cwd, opts.configFile) : cwd;
    throw new UsageError(`could not read the config (${where}): ${(e as Error).message}`, {
      hint: 'check the file for syntax errors',
    });
  }
  if (!found || found.isEmpty) {
    const top = dirs[dirs.length - 1];
    throw new UsageError(`no ship config found from ${cwd} upward${top && top !== cwd ? ` (up to ${top}, where the search stops)` : ''}`, {
      hint: 'run `ship init` to write one, or pass --config <file>',
    });
  }
  if (found.config && typeof found.config === 'object' && CODE in found.config) {
    throw Object.assign(new UsageError(`${found.filepath} is code, which is not run here`, { reason: 'code-config' }), { codeConfig: found.filepath });
  }
  const warnings = (await import('./ts-loader.js')).takeTsCacheWarnings();
  const cfg = parseConfig(found.config, found.filepath, { packageDir: workspacePackage(cwd, path.dirname(found.filepath)) });
  if (!opts.configFile) cfg.shadowed = shadowedConfigs(found.filepath);
  if (warnings.length) cfg.warnings = warnings;
  return cfg;
}

/**
 * The stage names of a JS/TS config read from its text, without running it (shell
 * completion): the keys of the first `stages: { … }` object literal. Best effort: stages
 * built by code are not seen. [] when the file cannot be read.
 */
export function staticStageNames(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // Comments become spaces; `quoted` marks the characters inside string literals.
  const quoted = new Uint8Array(text.length);
  let src = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      quoted.fill(1, i + 1, Math.min(j, text.length));
      src += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith('//', i) || text.startsWith('/*', i)) {
      const end = text.startsWith('//', i) ? text.indexOf('\n', i) : text.indexOf('*/', i) + 2;
      const j = end <= 1 || end < i ? text.length : end;
      src += text.slice(i, j).replace(/[^\n]/g, ' ');
      i = j;
    } else {
      src += c;
      i++;
    }
  }
  const re = /(?:stages|'stages'|"stages")\s*:\s*\{/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) && (quoted[m.index] || /[\w$]/.test(src[m.index - 1] ?? ''))) {
    /* inside a string, or part of a longer name: look further */
  }
  if (!m) return [];
  const names: string[] = [];
  let depth = 1;
  let expectKey = true;
  let i = m.index + m[0].length;
  const str = (): string => {
    const q = src[i++];
    let out = '';
    while (i < src.length && src[i] !== q) {
      if (src[i] === '\\') i++;
      out += src[i++] ?? '';
    }
    i++;
    return out;
  };
  while (i < src.length && depth > 0) {
    while (/\s/.test(src[i] ?? '')) i++;
    const c = src[i];
    if (c === undefined) break;
    if (depth === 1 && expectKey) {
      expectKey = false;
      let key: string | undefined;
      if (c === '"' || c === "'") key = str();
      else {
        const id = /^[A-Za-z_$][\w$-]*/.exec(src.slice(i, i + 200));
        if (id) {
          key = id[0];
          i += key.length;
        }
      }
      while (/\s/.test(src[i] ?? '')) i++;
      if (key !== undefined && src[i] === ':') {
        names.push(key);
        i++;
      }
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      str();
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    i++;
  }
  return names;
}

/** Config files beside `file` that the search would have found after it (package.json only with a "ship" key). */
export function shadowedConfigs(file: string): string[] {
  const dir = path.dirname(file);
  return SEARCH_PLACES.filter((f) => {
    const p = path.join(dir, f);
    if (p === file || !existsSync(p)) return false;
    if (f !== 'package.json') return true;
    try {
      return JSON.parse(readFileSync(p, 'utf8')).ship !== undefined;
    } catch {
      return false;
    }
  }).map((f) => path.join(dir, f));
}

/**
 * The workspace package a command was run for, when the config sits above it (one root config
 * for a monorepo): the nearest directory with a package.json from where ship was invoked up to,
 * not including, the config's directory. Where ship was invoked: --cwd, else the working
 * directory — or npm's INIT_CWD when a script of the config's own package runs from a package
 * below it. Undefined when the config is the package's own.
 */
export function workspacePackage(cwd: string, configDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let from = cwd;
  const init = env.INIT_CWD && path.resolve(env.INIT_CWD);
  if (from === configDir && init && init.startsWith(configDir + path.sep)) from = init;
  if (from === configDir || !from.startsWith(configDir + path.sep)) return undefined;
  for (let d = from; d !== configDir && d.startsWith(configDir + path.sep); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
  }
  return undefined;
}

export interface ParseOptions {
  /** The invoked workspace package's directory, under a root config (see workspacePackage). */
  packageDir?: string;
}

/** Checks a config object (as read from `file`) and returns its stages. */
export function parseConfig(input: unknown, file: string, popts: ParseOptions = {}): LoadedConfig {
  const dir = path.dirname(file);
  const parsed = configSchema.safeParse(unwrapDefault(input));
  if (!parsed.success) {
    throw new ConfigError(file, (parsed.error.issues as Issue[]).flatMap(issueToProblems));
  }
  const raw = parsed.data;
  const stageNames = Object.keys(raw.stages);
  const problems: ConfigProblem[] = [];
  const stages = new Map<string, Stage>();
  for (const name of stageNames) {
    const s = resolveStage(raw, name, file, problems, popts.packageDir);
    if (s) stages.set(name, s);
  }
  if (problems.length) throw new ConfigError(file, problems);
  return {
    file,
    dir,
    raw,
    stageNames,
    stage(name: string): Stage {
      const s = stages.get(name);
      if (!s) {
        throw new UsageError(`unknown stage '${name}'`, {
          hint: stageNames.length ? `stages in ${path.basename(file)}: ${stageNames.join(', ')}` : 'the config defines no stages',
        });
      }
      return s;
    },
  };
}

function unwrapDefault(input: unknown): unknown {
  if (input && typeof input === 'object' && 'default' in input && Object.keys(input).length === 1) {
    return (input as { default: unknown }).default;
  }
  return input;
}

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: string[];
  errors?: Issue[][];
  issues?: Issue[];
}

/** A host written as an object is reported by its keys, not as "Invalid input" for the whole union. */
function issueToProblems(issue: Issue): ConfigProblem[] {
  const branch = issue.code === 'invalid_union' ? issue.errors?.find((b) => b.some((i) => i.path.length > 0)) : undefined;
  if (branch) return branch.flatMap((i) => issueToProblems({ ...i, path: [...issue.path, ...i.path] }));
  if (issue.code === 'invalid_key' && issue.issues?.[0]) return [{ path: issue.path.map(String).join('.'), message: `not ${issue.issues[0].message}` }];
  return [issueToProblem(issue)];
}

function issueToProblem(issue: Issue): ConfigProblem {
  const p = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return { path: p ? `${p}.${issue.keys.join(',')}` : issue.keys.join(','), message: 'unknown key', hint: 'see the config reference in the README' };
  }
  return { path: p, message: issue.message };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Objects merge deeply; arrays and scalars replace. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (!isObj(base) || !isObj(over)) return over as T;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : v;
  return out as T;
}

function packageJsonName(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name || undefined;
  } catch {
    return undefined;
  }
}

function nearestPackageName(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = JSON.parse(readFileSync(pj, 'utf8')).name as string | undefined;
        if (name) return name.replace(/^@[^/]+\//, '');
      } catch {
        /* an unreadable package.json gives no name */
      }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * Shared paths as used on the hosts: `./storage`, `a//b` and `c/.` become `storage`,
 * `a/b` and `c`, so links are placed and counted on the same path. Anything that would
 * leave shared/ (`..`, absolute) or name it whole (`.`) is a config error.
 */
function normalizeShared(list: string[], key: string, problems: ConfigProblem[]): string[] {
  const out: string[] = [];
  list.forEach((p, i) => {
    const n = path.posix.normalize(p).replace(/\/+$/, '');
    if (!n || n === '.' || n === '..' || n.startsWith('../') || n.startsWith('/')) {
      problems.push({ path: `${key}.${i}`, message: `'${p}' is not a path inside shared/`, hint: "a relative path such as 'storage' or 'config/.env'" });
      return;
    }
    out.push(n);
  });
  return out;
}

/** Why a deployTo is refused: the file system root, a home directory itself, or the project directory. */
function refusedDeployTo(deployTo: string, projectDir: string | undefined): string | undefined {
  const n = path.posix.normalize(deployTo).replace(/\/+$/, '');
  if (n === '' || n === '/') return 'is the root directory';
  if (n === '~' || (projectDir !== undefined && n === path.resolve(os.homedir()))) return 'is the home directory itself';
  if (projectDir !== undefined && n === path.resolve(projectDir)) return 'is the project directory';
  return undefined;
}

function expandLocal(p: string, dir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(dir, p);
}

function resolveStage(raw: ShipConfigInput, name: string, file: string, problems: ConfigProblem[], packageDir?: string): Stage | undefined {
  const dir = path.dirname(file);
  const { stages: _stages, packages, $schema: _schema, ...top } = raw;
  let merged = deepMerge<StageInput>(top as StageInput, raw.stages[name]);
  // The invoked workspace package: its own settings from `packages.<name>` win over the stage's.
  const pkg = packageDir ? packageJsonName(packageDir) : undefined;
  if (pkg && packages) merged = deepMerge(merged, packages[pkg] ?? packages[pkg.replace(/^@[^/]+\//, '')]);
  const at = (k: string) => `stages.${name}.${k}`;
  const before = problems.length;
  const base = packageDir ?? dir;

  const app = merged.app ?? nearestPackageName(base);
  const fill = (s: string) => s.replace(/\{app\}/g, app ?? 'app').replace(/\{stage\}/g, name);
  if (!app) problems.push({ path: 'app', message: 'no app name', hint: "set `app`, or run from a package with a package.json name" });
  const defaultDeployTo = `/var/www/${app ?? 'app'}`;
  if (merged.deployTo) merged.deployTo = fill(merged.deployTo);
  merged.hosts = merged.hosts?.map((h) => (typeof h === 'object' && h.deployTo ? { ...h, deployTo: fill(h.deployTo) } : h));

  if (!merged.hosts?.length) problems.push({ path: at('hosts'), message: 'a stage needs at least one host', hint: "e.g. hosts: ['deploy@web1.example.com'] or ['local']" });

  problems.push(...hookRules(merged.hooks ?? {}));
  const sharedDirs = normalizeShared(merged.shared?.dirs ?? [], 'shared.dirs', problems);
  const sharedFiles = normalizeShared(merged.shared?.files ?? [], 'shared.files', problems);
  problems.push(...sharedRules([...sharedDirs, ...sharedFiles]));

  const sshBase = merged.ssh ?? {};
  let hcMissingUrl = false;
  const hc = (h: StageInput['healthcheck']): Healthcheck | undefined => {
    if (!h) return undefined;
    if (!h.url) {
      hcMissingUrl = true;
      return undefined;
    }
    return {
      url: h.url,
      expect: h.expect ?? 200,
      contains: h.contains,
      timeout: toMs(h.timeout ?? '5s'),
      retries: h.retries ?? 10,
      interval: toMs(h.interval ?? '1s'),
    };
  };

  const hosts: HostConfig[] = [];
  (merged.hosts ?? []).forEach((h, i) => {
    const host = resolveHost(h, i, merged, sshBase, dir, defaultDeployTo, hc, name, problems);
    if (host) hosts.push(host);
  });
  if (hcMissingUrl) problems.push({ path: at('healthcheck.url'), message: 'a health check needs a url', hint: 'e.g. http://127.0.0.1:8080/healthz' });
  problems.push(...hostNameRules(hosts.map((h) => h.name), at));
  const staleAfterMs = toMs(merged.lock?.staleAfter ?? '2m');
  const staleKey = raw.stages[name]?.lock?.staleAfter !== undefined ? at('lock.staleAfter') : 'lock.staleAfter';
  for (const p of lockRules(staleAfterMs, staleKey)) if (!problems.some((q) => q.path === p.path)) problems.push(p);
  const colors = resolveColors(merged, app ?? 'app', hosts, problems);
  const weighted = resolveWeighted(merged, !!colors, problems);
  if (problems.length > before) return undefined;

  const hooks: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(merged.hooks ?? {})) hooks[k] = Array.isArray(v) ? v : [v];

  return {
    name,
    app: app!,
    configFile: file,
    configDir: dir,
    build: {
      command: merged.build?.command,
      dir: path.resolve(base, fill(merged.build?.dir ?? 'dist')),
      cwd: base,
      exclude: merged.build?.exclude ?? [],
      followSymlinks: merged.build?.followSymlinks ?? false,
    },
    keepReleases: merged.keepReleases ?? 5,
    shared: { dirs: sharedDirs, files: sharedFiles, ...(merged.shared?.upload ? { upload: sharedUploads(merged.shared.upload, dir) } : {}) },
    env: merged.env ?? {},
    envFile: merged.envFile,
    migrations: {
      dir: merged.migrations?.dir ?? 'migrations',
      run: merged.migrations?.run,
      contract: merged.migrations?.contract ?? 'manual',
      backup: merged.migrations?.backup,
      backfill: {
        mode: merged.migrations?.backfill?.mode ?? 'before-switch',
        batch: merged.migrations?.backfill?.batch ?? 1000,
        pause: toMs(merged.migrations?.backfill?.pause ?? '200ms'),
        maxBatches: merged.migrations?.backfill?.maxBatches,
        timeout: merged.migrations?.backfill?.timeout === undefined ? undefined : toMs(merged.migrations.backfill.timeout),
      },
    },
    reload: merged.reload,
    healthcheck: hc(merged.healthcheck),
    assets: merged.assets && { dirs: merged.assets.dirs, keep: merged.assets.keep ?? 3 },
    hooks,
    strategy: {
      type: merged.strategy?.type ?? 'all-at-once',
      batchSize: merged.strategy?.batchSize ?? 1,
      canary: merged.strategy?.canary ?? 1,
      ...weighted,
    },
    ...(colors ? { colors } : {}),
    concurrency: merged.concurrency ?? 8,
    lock: { staleAfterMs },
    reuse: merged.reuse ?? 'link',
    upload: { compress: merged.upload?.compress ?? 'auto' },
    maintenance: { page: merged.maintenance?.page && path.resolve(dir, merged.maintenance.page) },
    hosts,
    allHosts: hosts,
  };
}

/** `user@host:port`, `host`, `[::1]:2222` or `local`. */
export function parseHostString(s: string): { user?: string; host: string; port?: number } | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(s);
  if (!m) return undefined;
  const port = m[3] ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { user: m[1], host: m[2].replace(/^\[|\]$/g, ''), port };
}

function resolveHost(
  h: HostInput,
  i: number,
  merged: StageInput,
  sshBase: NonNullable<StageInput['ssh']>,
  dir: string,
  defaultDeployTo: string,
  hc: (h: StageInput['healthcheck']) => Healthcheck | undefined,
  stage: string,
  problems: ConfigProblem[],
): HostConfig | undefined {
  const where = `stages.${stage}.hosts.${i}`;
  const obj = typeof h === 'string' ? undefined : h;
  const str = typeof h === 'string' ? h : h.host;
  const local = str === 'local';
  const parsed = local ? { host: 'local' } : parseHostString(str);
  if (!parsed) {
    problems.push({ path: where, message: `'${str}' is not a host`, hint: "write user@host:port, host, or 'local'" });
    return undefined;
  }
  const ssh = deepMerge(sshBase, obj?.ssh);
  const user = obj?.user ?? parsed.user ?? ssh.user;
  const port = obj?.port ?? parsed.port ?? ssh.port;
  const name = obj?.name ?? (local ? 'local' : port && port !== 22 ? `${parsed.host}:${port}` : parsed.host);
  let deployTo = obj?.deployTo ?? merged.deployTo ?? defaultDeployTo;
  if (local) {
    deployTo = expandLocal(deployTo, dir);
  } else if (!deployTo.startsWith('/') && !deployTo.startsWith('~/')) {
    problems.push({ path: obj?.deployTo ? `${where}.deployTo` : 'deployTo', message: `'${deployTo}' must be absolute or start with ~/ on ${name}` });
    return undefined;
  }
  if (deployTo.split('/').includes('..')) {
    problems.push({ path: 'deployTo', message: `'${deployTo}' must not contain ..` });
    return undefined;
  }
  const refused = refusedDeployTo(deployTo, local ? dir : undefined);
  if (refused) {
    problems.push({ path: obj?.deployTo ? `${where}.deployTo` : 'deployTo', message: `'${deployTo}' ${refused} on ${name}`, hint: 'deploy into a directory of its own, e.g. /var/www/<app> or ~/apps/<app>' });
    return undefined;
  }
  const knownHosts = ssh.knownHosts === undefined ? [] : Array.isArray(ssh.knownHosts) ? ssh.knownHosts : [ssh.knownHosts];
  const sshOpts: SshOptions = {
    user,
    port,
    privateKey: ssh.privateKey && expandLocal(ssh.privateKey, dir),
    passphrase: ssh.passphrase,
    agent: ssh.agent,
    knownHosts: knownHosts.map((f) => expandLocal(f, dir)),
    globalKnownHosts: ssh.globalKnownHosts === undefined ? undefined : [ssh.globalKnownHosts].flat().map((f) => expandLocal(f, dir)),
    strictHostKeyChecking: ssh.strictHostKeyChecking ?? 'yes',
    keepalive: ssh.keepalive ?? true,
    readyTimeout: toMs(ssh.readyTimeout ?? '20s'),
    ...(ssh.proxyJump !== undefined ? { proxyJump: proxyJumpList(ssh.proxyJump) } : {}),
  };
  return {
    name,
    address: parsed.host,
    local,
    user,
    port,
    roles: obj?.roles ?? [],
    deployTo: deployTo.replace(/\/+$/, '') || '/',
    ssh: sshOpts,
    env: { ...(merged.env ?? {}), ...(obj?.env ?? {}) },
    healthcheck: hc(deepMerge(merged.healthcheck, obj?.healthcheck)),
    ...((obj?.ports ?? merged.ports) ? { ports: obj?.ports ?? merged.ports } : {}),
  };
}

/** `shared.upload` with local paths made absolute (relative to the config file). */
function sharedUploads(upload: NonNullable<NonNullable<StageInput['shared']>['upload']>, dir: string): Record<string, SharedUpload> {
  const out: Record<string, SharedUpload> = {};
  for (const [name, v] of Object.entries(upload)) {
    const from = typeof v === 'string' ? v : v.from;
    const secret = typeof v === 'string' ? undefined : v.secret;
    out[name] = { from: expandLocal(from, dir), secret: secret ?? isSecretName(name) };
  }
  return out;
}

/** Files whose name starts with `.env` hold secrets: uploaded with mode 0600. */
export function isSecretName(name: string): boolean {
  return path.posix.basename(name).startsWith('.env');
}

/** `a,b` or ['a', 'b'] as hops; 'none' as no hops. */
function proxyJumpList(v: string | string[]): string[] {
  const hops = (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return hops.length === 1 && hops[0].toLowerCase() === 'none' ? [] : hops;
}

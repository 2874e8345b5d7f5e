import { loadStage, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import type { HostConfig, Stage } from '../config/types.js';
import { REDACTED, redactEnv, redactUrls } from '../redact.js';

/**
 * `ship config <stage>`: the stage as ship resolves it for each host, after every merge
 * (defaults, top level, stage, host object) and with ~/.ssh/config's answers (HostName,
 * User, Port, IdentityFile, ProxyJump, UserKnownHostsFile) and where each came from.
 * Nothing is contacted. Secrets are redacted: env values, the ssh passphrase, URL
 * credentials and query values wherever a URL appears (health check, commands); the
 * envFile is named, never read.
 */
export async function showConfig(o: CommandOptions, print: Printer): Promise<CommandResult> {
  const t0 = Date.now();
  const stage = await loadStage(o);
  const views = await Promise.all(stage.hosts.map((h) => hostView(stage, h)));
  print(views, views.map((v) => `---\n${yamlLike(v)}`).join('\n'));
  o.events?.emit({ type: 'summary', command: 'config', stage: stage.name, exitCode: 0, hosts: stage.hosts.map((h) => h.name), ms: Date.now() - t0, steps: {}, bytesSent: 0, pruned: {} });
  return { exitCode: 0 };
}

const cmd = (s: string | undefined) => (s === undefined ? undefined : redactUrls(s));

export async function hostView(stage: Stage, h: HostConfig): Promise<Record<string, unknown>> {
  let connection: Record<string, unknown>;
  if (h.local) connection = { transport: 'local' };
  else {
    const { resolveConnection } = await import('../transport/resolve.js');
    const r = resolveConnection(h);
    const o = r.options;
    connection = {
      transport: 'ssh',
      host: o.host,
      port: o.port,
      user: o.user,
      privateKey: o.privateKey ?? 'default (~/.ssh/id_ed25519, id_ecdsa, id_rsa)',
      ...(o.passphrase !== undefined ? { passphrase: REDACTED } : {}),
      agent: o.agent ?? true,
      proxyJump: r.hops,
      knownHosts: o.knownHosts,
      strictHostKeyChecking: o.strictHostKeyChecking,
      keepalive: o.keepalive,
      readyTimeout: o.readyTimeout,
      sources: r.sources,
    };
  }
  const view: Record<string, unknown> = {
    stage: stage.name,
    name: h.name,
    config: stage.configFile,
    app: stage.app,
    address: h.address,
    roles: h.roles,
    deployTo: h.deployTo,
    connection,
    build: { ...stage.build, command: cmd(stage.build.command) },
    keepReleases: stage.keepReleases,
    shared: stage.shared,
    env: redactEnv(h.env),
    envFile: stage.envFile,
    migrations: { ...stage.migrations, run: cmd(stage.migrations.run), backup: cmd(stage.migrations.backup) },
    reload: cmd(stage.reload),
    healthcheck: h.healthcheck && { ...h.healthcheck, url: redactUrls(h.healthcheck.url), contains: cmd(h.healthcheck.contains) },
    assets: stage.assets,
    hooks: Object.fromEntries(Object.entries(stage.hooks).map(([k, v]) => [k, v.map((c) => redactUrls(c))])),
    strategy: stage.strategy,
    concurrency: stage.concurrency,
    reuse: stage.reuse,
    maintenance: stage.maintenance,
  };
  return JSON.parse(JSON.stringify(view)) as Record<string, unknown>;
}

/** A small YAML-like rendering: nested keys indented, lists as `- item`, strings quoted only when needed. */
export function yamlLike(v: unknown, indent = ''): string {
  const scalar = (x: unknown) => {
    if (typeof x !== 'string') return String(x);
    return /^[\w./~<>@+-][\w ./~<>@:+,()-]*$/.test(x) && !/^(true|false|null|yes|no|\d+(\.\d+)?)$/i.test(x) && !/: |\s$/.test(x) ? x : JSON.stringify(x);
  };
  const lines: string[] = [];
  if (Array.isArray(v)) {
    if (!v.length) return `${indent}[]`;
    for (const x of v) {
      if (x && typeof x === 'object') lines.push(`${indent}- ${yamlLike(x, `${indent}  `).trimStart()}`);
      else lines.push(`${indent}- ${scalar(x)}`);
    }
    return lines.join('\n');
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const key = /^[\w.-]+$/.test(k) ? k : JSON.stringify(k);
    if (x && typeof x === 'object') {
      const empty = Array.isArray(x) ? !x.length : !Object.keys(x).length;
      if (empty) lines.push(`${indent}${key}: ${Array.isArray(x) ? '[]' : '{}'}`);
      else lines.push(`${indent}${key}:\n${yamlLike(x, `${indent}  `)}`);
    } else lines.push(`${indent}${key}: ${scalar(x)}`);
  }
  return lines.join('\n');
}

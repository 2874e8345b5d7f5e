import { z } from 'zod';
import { STRATEGY_NAMES } from '../strategies/index.js';

/** Milliseconds, or a string with a unit: '500ms', '2s', '1m'. */
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m)$/, "a duration like 500, '500ms', '2s' or '1m'"),
]);

export function toMs(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(v)!;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a path inside the release (relative, no ..)');

const commandList = z.union([z.string().min(1), z.array(z.string().min(1))]);

export const sshSchema = z
  .object({
    user: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    privateKey: z.string().min(1).optional(),
    passphrase: z.string().optional(),
    agent: z.union([z.boolean(), z.string()]).optional(),
    knownHosts: z.union([z.string(), z.array(z.string())]).optional(),
    globalKnownHosts: z.union([z.string(), z.array(z.string())]).optional(),
    strictHostKeyChecking: z.enum(['yes', 'accept-new', 'no']).optional(),
    keepalive: z.boolean().optional(),
    readyTimeout: duration.optional(),
    /** ProxyJump: hops `[user@]host[:port]`, first hop first (a comma list or an array); 'none' turns ~/.ssh/config's off. */
    proxyJump: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  })
  .strict();

// Every key is optional here: a stage or host may override part of it. The merged
// result must have a url (checked in load.ts).
export const healthcheckSchema = z
  .object({
    url: z.string().regex(/^https?:\/\/[^/\s]+/, 'an http:// URL as seen from the host, e.g. http://127.0.0.1:8080/healthz').optional(),
    expect: z.number().int().min(100).max(599).optional(),
    contains: z.string().optional(),
    timeout: duration.optional(),
    retries: z.number().int().min(0).optional(),
    interval: duration.optional(),
  })
  .strict();

/** Two colors per host (blue-green, weighted canary): see docs/blue-green.md. */
export const processesSchema = z
  .object({
    start: z.string().min(1),
    stop: z.string().min(1),
    keepOld: z.enum(['next-deploy', 'none']).optional(),
    /** false: skip the check that the deploy user owns the socket on a color's port (hosts without /proc/net/tcp). */
    checkListener: z.boolean().optional(),
  })
  .strict();

export const portsSchema = z
  .object({ blue: z.number().int().min(1).max(65535), green: z.number().int().min(1).max(65535) })
  .strict()
  .refine((p) => p.blue !== p.green, 'blue and green need different ports');

export const routerSchema = z
  .object({
    command: z.string().min(1).optional(),
    file: z.string().min(1).optional(),
    accessLog: z.string().min(1).optional(),
    reload: z.string().min(1).optional(),
    name: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, '1-64 letters, digits and _ (it names nginx upstreams and variables)').optional(),
  })
  .strict();

export const gatesSchema = z
  .object({
    errorRate: z.number().min(0).max(100).optional(),
    p95: z.number().min(1).optional(),
    minRequests: z.number().int().min(1).optional(),
  })
  .strict();

export const hostObjectSchema = z
  .object({
    name: z.string().min(1).optional(),
    host: z.string().min(1),
    user: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    roles: z.array(z.string().min(1)).optional(),
    deployTo: z.string().min(1).optional(),
    ssh: sshSchema.optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).optional(),
    healthcheck: healthcheckSchema.optional(),
    ports: portsSchema.optional(),
  })
  .strict();

export const hostSchema = z.union([z.string().min(1), hostObjectSchema]);

/** Keys allowed both at top level and per stage. */
const settings = {
  app: z.string().min(1).optional(),
  build: z
    .object({
      command: z.string().optional(),
      dir: z.string().min(1).optional(),
      exclude: z.array(z.string()).optional(),
      followSymlinks: z.boolean().optional(),
    })
    .strict()
    .optional(),
  deployTo: z.string().min(1).optional(),
  keepReleases: z.number().int().min(1).optional(),
  shared: z
    .object({
      dirs: z.array(relPath).optional(),
      files: z.array(relPath).optional(),
      /** Files `ship setup` uploads into shared/: name in shared/ -> local file (relative to the config file). */
      upload: z.record(relPath, z.union([z.string().min(1), z.object({ from: z.string().min(1), secret: z.boolean().optional() }).strict()])).optional(),
    })
    .strict()
    .optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).optional(),
  envFile: relPath.optional(),
  migrations: z
    .object({
      dir: relPath.optional(),
      run: z.string().min(1).optional(),
      contract: z.enum(['manual', 'next-deploy', 'after-switch']).optional(),
      backup: z.string().min(1).optional(),
      backfill: z
        .object({
          mode: z.enum(['before-switch', 'after-switch']).optional(),
          batch: z.number().int().min(1).optional(),
          pause: duration.optional(),
          maxBatches: z.number().int().min(1).optional(),
          timeout: duration.optional(),
        })
        .strict()
        .optional(),
    })
    .strict()
    .optional(),
  reload: z.string().min(1).optional(),
  healthcheck: healthcheckSchema.optional(),
  assets: z.object({ dirs: z.array(relPath), keep: z.number().int().min(0).optional() }).strict().optional(),
  hooks: z.record(z.string(), commandList).optional(),
  strategy: z
    .object({
      type: z.enum(STRATEGY_NAMES).optional(),
      batchSize: z.number().int().min(1).optional(),
      canary: z.number().int().min(1).optional(),
      // Two colors only (processes + ports): traffic weights in percent, walked in order.
      steps: z.array(z.number().int().min(1).max(100)).min(1).optional(),
      stepTime: duration.optional(),
      gates: gatesSchema.optional(),
    })
    .strict()
    .optional(),
  processes: processesSchema.optional(),
  ports: portsSchema.optional(),
  router: routerSchema.optional(),
  concurrency: z.number().int().min(1).optional(),
  reuse: z.enum(['link', 'copy']).optional(),
  upload: z.object({ compress: z.enum(['none', 'gzip', 'zstd', 'auto']).optional() }).strict().optional(),
  maintenance: z.object({ page: z.string().min(1).optional() }).strict().optional(),
  ssh: sshSchema.optional(),
  lock: z.object({ staleAfter: duration.optional() }).strict().optional(),
};

export const stageSchema = z.object({ ...settings, hosts: z.array(hostSchema).min(1).optional() }).strict();

export const configSchema = z
  .object({
    /** Editors' JSON Schema reference (JSON and YAML configs); ship ignores it. */
    $schema: z.string().optional(),
    ...settings,
    stages: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a stage name (letters, digits, . _ -)'), stageSchema),
    /** Per workspace package (by package.json name, with or without its @scope): settings over the stage's. */
    packages: z.record(z.string(), z.object(settings).strict()).optional(),
  })
  .strict();

export type SshInput = z.infer<typeof sshSchema>;
export type HostInput = z.infer<typeof hostSchema>;
export type HostObjectInput = z.infer<typeof hostObjectSchema>;
export type StageInput = z.infer<typeof stageSchema>;
export type ShipConfigInput = z.infer<typeof configSchema>;

/** The config after loading, merging and checking: what steps read. */
export interface Healthcheck {
  url: string;
  expect: number;
  contains?: string;
  timeout: number;
  retries: number;
  interval: number;
}

export interface SshOptions {
  user?: string;
  port?: number;
  privateKey?: string;
  passphrase?: string;
  agent?: boolean | string;
  knownHosts: string[];
  /** The system-wide known_hosts files (default: ssh -G's GlobalKnownHostsFile, else /etc/ssh/ssh_known_hosts{,2}). */
  globalKnownHosts?: string[];
  strictHostKeyChecking: 'yes' | 'accept-new' | 'no';
  keepalive: boolean;
  readyTimeout: number;
  /** ProxyJump hops from the config (first hop first); undefined: ~/.ssh/config decides; []: none. */
  proxyJump?: string[];
}

export interface HostConfig {
  /** Unique within the stage; what output shows and --hosts takes. */
  name: string;
  /** The address to connect to ('local' for the local transport). */
  address: string;
  local: boolean;
  user?: string;
  port?: number;
  roles: string[];
  /** Absolute, or starting with ~/ (resolved on the host). */
  deployTo: string;
  ssh: SshOptions;
  env: Record<string, string>;
  healthcheck?: Healthcheck;
  /** Two colors: this host's ports (the stage's `ports`, or its own). */
  ports?: { blue: number; green: number };
}

/** A file `ship setup` uploads into shared/: the local file (absolute) and whether it holds secrets (mode 0600). */
export interface SharedUpload {
  from: string;
  secret: boolean;
}

export type { StrategyType } from '../strategies/index.js';
import type { StrategyType } from '../strategies/index.js';
export type ContractPolicy = 'manual' | 'next-deploy' | 'after-switch';

/** `migrations.backfill`: how backfill migrations run (see src/migrations/backfill.ts). */
export interface BackfillSettings {
  /** In the deploy's migrate step (before the switch) or after the rollout. */
  mode: 'before-switch' | 'after-switch';
  /** Rows per batch, passed to the file as `batch`. */
  batch: number;
  /** Milliseconds between batches. */
  pause: number;
  /** Most batches one run does (undefined: no limit); the rest resumes on the next run. */
  maxBatches?: number;
  /** Milliseconds one run may spend on backfills before it stops after a batch (undefined: no limit). */
  timeout?: number;
}

export interface Stage {
  name: string;
  app: string;
  configFile: string;
  configDir: string;
  /** `cwd`: where build.command runs — the config's directory, or the workspace package invoked under a root config. */
  build: { command?: string; dir: string; exclude: string[]; followSymlinks: boolean; cwd?: string };
  keepReleases: number;
  shared: { dirs: string[]; files: string[]; upload?: Record<string, SharedUpload> };
  env: Record<string, string>;
  envFile?: string;
  migrations: { dir: string; run?: string; contract: ContractPolicy; backup?: string; backfill: BackfillSettings };
  reload?: string;
  healthcheck?: Healthcheck;
  assets?: { dirs: string[]; keep: number };
  hooks: Record<string, string[]>;
  strategy: {
    type: StrategyType;
    batchSize: number;
    canary: number;
    /** Weighted canary (two colors): traffic percentages walked in order, ending at 100. */
    steps?: number[];
    stepTime?: number;
    gates?: Gates;
  };
  /** Two colors per host (processes + ports given): see src/colors/. */
  colors?: Colors;
  concurrency: number;
  /** A lock whose heartbeat is older than this is stale (`lock.staleAfter`). */
  lock: { staleAfterMs: number };
  reuse: 'link' | 'copy';
  /** How the upload archive is compressed; auto: none on loopback/LAN, else zstd when both ends have it, else gzip -1. */
  upload: { compress: 'none' | 'gzip' | 'zstd' | 'auto' };
  maintenance: { page?: string };
  /** The hosts this run works on (after --hosts / --roles). */
  hosts: HostConfig[];
  /** Every host of the stage, whatever the run selected: migrations judge by all of them. */
  allHosts: HostConfig[];
}

/** Canary gates: the new color may be this much worse than the old one. */
export interface Gates {
  /** Percentage points of 5xx answers above the old color's rate. */
  errorRate: number;
  /** Factor over the old color's p95 of $request_time. */
  p95: number;
  /** Requests the new color must have answered in a step before it is judged. */
  minRequests: number;
}

export interface Colors {
  start: string;
  stop: string;
  keepOld: 'next-deploy' | 'none';
  /** Routes to a color only when its port's listening socket belongs to the deploy user (docs/blue-green.md). */
  checkListener: boolean;
  ports: { blue: number; green: number };
  /**
   * How traffic moves (docs/blue-green.md, "Two ways to change the router"): `command`,
   * the root-owned helper run with numbers only; or `file` + `reload`, for an nginx that
   * runs as the deploy user. Relative paths are relative to deployTo.
   */
  router: { command: string; file?: undefined; reload?: undefined; accessLog: string; name: string } | { command?: undefined; file: string; reload: string; accessLog: string; name: string };
}

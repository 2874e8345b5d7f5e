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
  strictHostKeyChecking: 'yes' | 'accept-new' | 'no';
  keepalive: boolean;
  readyTimeout: number;
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

export type StrategyType = 'all-at-once' | 'rolling' | 'canary';
export type ContractPolicy = 'manual' | 'next-deploy' | 'after-switch';

export interface Stage {
  name: string;
  app: string;
  configFile: string;
  configDir: string;
  build: { command?: string; dir: string; exclude: string[]; followSymlinks: boolean };
  keepReleases: number;
  shared: { dirs: string[]; files: string[] };
  env: Record<string, string>;
  envFile?: string;
  migrations: { dir: string; run?: string; contract: ContractPolicy; backup?: string };
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
  reuse: 'link' | 'copy';
  maintenance: { page?: string };
  hosts: HostConfig[];
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
  ports: { blue: number; green: number };
  /** Relative paths are relative to deployTo. */
  router: { file: string; accessLog: string; reload: string; name: string };
}

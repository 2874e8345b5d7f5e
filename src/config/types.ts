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
}

export type StrategyType = 'all-at-once' | 'rolling' | 'canary';
export type ContractPolicy = 'manual' | 'next-deploy' | 'after-switch';

export interface Stage {
  name: string;
  app: string;
  configFile: string;
  configDir: string;
  /** `cwd`: where build.command runs — the config's directory, or the workspace package invoked under a root config. */
  build: { command?: string; dir: string; exclude: string[]; followSymlinks: boolean; cwd?: string };
  keepReleases: number;
  shared: { dirs: string[]; files: string[] };
  env: Record<string, string>;
  envFile?: string;
  migrations: { dir: string; run?: string; contract: ContractPolicy; backup?: string };
  reload?: string;
  healthcheck?: Healthcheck;
  assets?: { dirs: string[]; keep: number };
  hooks: Record<string, string[]>;
  strategy: { type: StrategyType; batchSize: number; canary: number };
  concurrency: number;
  reuse: 'link' | 'copy';
  maintenance: { page?: string };
  hosts: HostConfig[];
}

/**
 * The rollout strategies: how a rollout splits its hosts into batches, what a batch is
 * called in output, and where a run may pause. The name list here feeds the config
 * schema, the TypeScript type, the CLI's choices and the runner; adding a strategy is
 * one object in this file.
 */
export const STRATEGY_NAMES = ['all-at-once', 'rolling', 'canary'] as const;
export type StrategyType = (typeof STRATEGY_NAMES)[number];

/** The strategy settings a plan needs (the resolved stage's `strategy`). */
export interface StrategySettings {
  type: StrategyType;
  batchSize: number;
  canary: number;
}

export interface Strategy {
  name: StrategyType;
  /** The hosts in the batches this strategy flips them in, first batch first. */
  batches<T>(hosts: T[], s: StrategySettings): T[][];
  /** Batches get drain/undrain hooks and a label in output. */
  batched: boolean;
  /** What output calls batch `i` (0-based) of `n`. */
  label(i: number, n: number): string;
  /** `--pause` may stop the rollout after batch `i`. */
  pausesAfter(i: number): boolean;
}

function inBatches<T>(hosts: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < hosts.length; i += Math.max(1, size)) out.push(hosts.slice(i, i + Math.max(1, size)));
  return out;
}

const batchLabel = (i: number, n: number) => `batch ${i + 1}/${n}`;

export const STRATEGIES: Record<StrategyType, Strategy> = {
  'all-at-once': {
    name: 'all-at-once',
    batches: (hosts) => [hosts],
    batched: false,
    label: batchLabel,
    pausesAfter: () => false,
  },
  rolling: {
    name: 'rolling',
    batches: (hosts, s) => inBatches(hosts, s.batchSize),
    batched: true,
    label: batchLabel,
    pausesAfter: () => false,
  },
  canary: {
    name: 'canary',
    batches: (hosts, s) => {
      const first = Math.max(1, s.canary);
      return [hosts.slice(0, first), ...inBatches(hosts.slice(first), s.batchSize)].filter((b) => b.length);
    },
    batched: true,
    label: (i, n) => (i === 0 ? 'canary' : batchLabel(i, n)),
    pausesAfter: (i) => i === 0,
  },
};

export function strategyOf(s: { type: StrategyType }): Strategy {
  return STRATEGIES[s.type];
}

export function isStrategyName(v: string): v is StrategyType {
  return (STRATEGY_NAMES as readonly string[]).includes(v);
}

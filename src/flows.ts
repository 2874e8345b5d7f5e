/**
 * Every flow ship runs, as data: its name, its steps in order (a rollout's steps run batch
 * by batch), and what a failure means for it. The hookable step names are read from here.
 * docs/architecture.md, The flow.
 */
import type { Flow, FlowItem } from './runner.js';
import type { Step } from './steps/types.js';
import { backfill } from './steps/backfill.js';
import { build } from './steps/build.js';
import { colorPromote, colorRollback } from './steps/color-choose.js';
import { colorHealth } from './steps/color-health.js';
import { route } from './steps/route.js';
import { startColor } from './steps/start-color.js';
import { connect } from './steps/connect.js';
import { contract } from './steps/contract.js';
import { finish } from './steps/finish.js';
import { health } from './steps/health.js';
import { link } from './steps/link.js';
import { lock } from './steps/lock.js';
import { migrate } from './steps/migrate.js';
import { promote } from './steps/promote.js';
import { publish } from './steps/publish.js';
import { release } from './steps/release.js';
import { reload } from './steps/reload.js';
import { rollback } from './steps/rollback.js';
import { setup, setupInspect, setupLocal } from './steps/setup.js';
import { pointNext } from './steps/next.js';
import { switchStep } from './steps/switch.js';
import { upload } from './steps/upload.js';
import { removePartials } from './failure.js';

export const rollout: FlowItem = { rollout: [switchStep, reload, health] };

/** `ship deploy`: a new release on every host, made live with the stage's strategy. */
export const deployFlow: Flow = {
  name: 'deploy',
  steps: [build, connect, release, lock, upload, link, publish, migrate, rollout, backfill, contract, finish],
  onFailure: removePartials,
  marksFailed: 'reverted',
};

/** `ship deploy --no-switch`: everything up to the switch, then `next` points at the release. */
export const stagedFlow: Flow = {
  name: 'staged',
  steps: [build, connect, release, lock, upload, link, publish, migrate, pointNext, finish],
  onFailure: removePartials,
  marksFailed: 'reverted',
};

/** `ship switch`: make `next` (or a named release) live with the stage's strategy. */
export const switchFlow: Flow = {
  name: 'switch',
  steps: [connect, lock, promote, rollout, backfill, contract],
  marksFailed: 'everywhere',
};

export const rollbackFlow: Flow = { name: 'rollback', steps: [connect, lock, rollback, rollout], marksFailed: 'none' };

/** `ship setup`: read the local files, look, lock, then create what is missing and upload. */
export const setupFlow: Flow = { name: 'setup', steps: [setupLocal, connect, setupInspect, lock, setup], marksFailed: 'none' };

/**
 * Two colors per host (the stage has `processes`): the new release starts beside the old
 * one, is checked on its own port, then the router moves traffic and `current` follows.
 */
export const colorDeployFlow: Flow = {
  name: 'two-color deploy',
  steps: [build, connect, release, lock, upload, link, publish, migrate, startColor, colorHealth, route, backfill, contract, finish],
  onFailure: removePartials,
  marksFailed: 'reverted',
};

export const colorSwitchFlow: Flow = {
  name: 'two-color switch',
  steps: [connect, lock, colorPromote, startColor, colorHealth, route, backfill, contract],
  marksFailed: 'everywhere',
};

export const colorRollbackFlow: Flow = { name: 'two-color rollback', steps: [connect, lock, colorRollback, startColor, colorHealth, route], marksFailed: 'none' };

/** Every flow of this file, by name. */
export const FLOWS: Record<string, Flow> = Object.fromEntries(
  [deployFlow, stagedFlow, switchFlow, rollbackFlow, setupFlow, colorDeployFlow, colorSwitchFlow, colorRollbackFlow].map((f) => [f.name, f]),
);

/** The steps of a flow in order, a rollout's steps in place. */
export function stepsOf(flow: Flow | FlowItem[]): Step[] {
  return (Array.isArray(flow) ? flow : flow.steps).flatMap((f) => ('rollout' in f ? f.rollout : [f]));
}

/** The names `before:<step>` and `after:<step>` hooks may use: every step of every flow. */
export function hookableSteps(): string[] {
  return [...new Set(Object.values(FLOWS).flatMap((f) => stepsOf(f).map((s) => s.name)))];
}

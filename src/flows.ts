import type { FlowItem } from './runner.js';
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
import { reload } from './steps/reload.js';
import { rollback } from './steps/rollback.js';
import { setup, setupInspect, setupLocal } from './steps/setup.js';
import { stage } from './steps/stage.js';
import { switchStep } from './steps/switch.js';
import { upload } from './steps/upload.js';

/** Deploy and rollback as ordered lists of steps; hooks attach to these names. */
export const rollout: FlowItem = { rollout: [switchStep, reload, health] };

export const deployFlow: FlowItem[] = [build, connect, lock, upload, link, publish, migrate, rollout, backfill, contract, finish];

/** `ship deploy --no-switch`: everything up to the switch, then `next` points at the release. */
export const stagedFlow: FlowItem[] = [build, connect, lock, upload, link, publish, migrate, stage, finish];

/** `ship switch`: make `next` (or a named release) live with the stage's strategy. */
export const switchFlow: FlowItem[] = [connect, lock, promote, rollout, backfill, contract, finish];

export const rollbackFlow: FlowItem[] = [connect, lock, rollback, rollout, finish];

/** `ship setup`: read the local files, look, lock, then create what is missing and upload. */
export const setupFlow: FlowItem[] = [setupLocal, connect, setupInspect, lock, setup];

/**
 * Two colors per host (the stage has `processes`): the new release starts beside the old
 * one, is checked on its own port, then the router moves traffic and `current` follows.
 */
export const colorDeployFlow: FlowItem[] = [build, connect, lock, upload, link, publish, migrate, startColor, colorHealth, route, backfill, contract, finish];

export const colorSwitchFlow: FlowItem[] = [connect, lock, colorPromote, startColor, colorHealth, route, backfill, contract, finish];

export const colorRollbackFlow: FlowItem[] = [connect, lock, colorRollback, startColor, colorHealth, route, finish];

/** Every flow of this file by name. The hookable step names are read from here. */
export const FLOWS: Record<string, FlowItem[]> = {
  deploy: deployFlow,
  staged: stagedFlow,
  switch: switchFlow,
  rollback: rollbackFlow,
  setup: setupFlow,
  'two-color deploy': colorDeployFlow,
  'two-color switch': colorSwitchFlow,
  'two-color rollback': colorRollbackFlow,
};

/** The steps of a flow in order, a rollout's steps in place. */
export function stepsOf(flow: FlowItem[]): Step[] {
  return flow.flatMap((f) => ('rollout' in f ? f.rollout : [f]));
}

/** The names `before:<step>` and `after:<step>` hooks may use: every step of every flow. */
export function hookableSteps(): string[] {
  return [...new Set(Object.values(FLOWS).flatMap((f) => stepsOf(f).map((s) => s.name)))];
}

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FLOWS, hookableSteps, stepsOf } from '../../src/flows.js';
import { configProblems } from '../harness/config.js';

function hookProblems(hooks: Record<string, string[]>): string[] {
  return configProblems({ app: 'web', hooks, stages: { prod: { hosts: ['local'], deployTo: '/srv/web' } } });
}

test('every step of every flow accepts before: and after: hooks', () => {
  for (const [name, flow] of Object.entries(FLOWS)) {
    for (const step of stepsOf(flow)) {
      const hooks = { [`before:${step.name}`]: ['local:true'], [`after:${step.name}`]: ['local:true'] };
      assert.equal(hookProblems(hooks), [], `${name} flow, step ${step.name}`);
    }
  }
  // The steps a hand-kept list once missed.
  for (const s of ['next', 'promote', 'backfill', 'start']) assert.ok(hookableSteps().includes(s), s);
});

test('a hook on a step no flow has is refused, naming the steps there are', () => {
  const p = hookProblems({ 'before:deploy': ['local:true'] });
  assert.equal(p, ['hooks.before:deploy: unknown hook']);
});

test('flows list their steps in order, the rollout in place', () => {
  assert.equal(stepsOf(FLOWS.deploy).map((s) => s.name).slice(0, 5), ['build', 'connect', 'release', 'lock', 'upload']);
  assert.ok(stepsOf(FLOWS.deploy).map((s) => s.name).join(' ').includes('migrate switch reload health'));
});

test.run();

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { planBatches, resolveStrategy, type Strategy } from '../../src/runner.js';

const hosts = ['a', 'b', 'c', 'd', 'e'];
const s = (type: Strategy['type'], batchSize = 1, canary = 1): Strategy => ({ type, batchSize, canary });

const plan = suite('planBatches');
plan('all-at-once: one batch of every host', () => {
  assert.equal(planBatches(hosts, s('all-at-once', 2)), [hosts]);
});
plan('rolling: batches of batchSize in host order, the last one shorter', () => {
  assert.equal(planBatches(hosts, s('rolling', 2)), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.equal(planBatches(hosts, s('rolling', 1)), [['a'], ['b'], ['c'], ['d'], ['e']]);
  assert.equal(planBatches(hosts, s('rolling', 9)), [hosts]);
});
plan('canary: the first `canary` hosts alone, then rolling batches', () => {
  assert.equal(planBatches(hosts, s('canary', 2, 1)), [['a'], ['b', 'c'], ['d', 'e']]);
  assert.equal(planBatches(hosts, s('canary', 3, 2)), [['a', 'b'], ['c', 'd', 'e']]);
  assert.equal(planBatches(hosts, s('canary', 1, 9)), [hosts]);
});
plan('no hosts: one empty batch (nothing to do)', () => {
  assert.equal(planBatches([], s('rolling', 2)), [[]]);
});
plan.run();

const res = suite('resolveStrategy');
const base = s('all-at-once', 1, 1);
res('no flags: the stage strategy', () => {
  assert.equal(resolveStrategy(s('rolling', 3, 1)), s('rolling', 3, 1));
});
res('--strategy, --batch and --canary override', () => {
  assert.equal(resolveStrategy(base, { type: 'rolling', batchSize: 2 }), s('rolling', 2, 1));
  assert.equal(resolveStrategy(base, { type: 'canary', canary: 2, batchSize: 3 }), s('canary', 3, 2));
});
res('--canary or --pause alone mean canary; --batch alone turns all-at-once into rolling', () => {
  assert.equal(resolveStrategy(base, { canary: 2 }).type, 'canary');
  assert.equal(resolveStrategy(base, {}, true).type, 'canary');
  assert.equal(resolveStrategy(base, { batchSize: 2 }), s('rolling', 2, 1));
  assert.equal(resolveStrategy(s('canary', 1, 1), { batchSize: 2 }), s('canary', 2, 1));
});
res('contradictions and bad numbers are usage errors (exit 2)', () => {
  const bad: Array<[Partial<Strategy>, boolean]> = [
    [{ type: 'rolling' }, true],
    [{ type: 'all-at-once', batchSize: 2 }, false],
    [{ type: 'rolling', canary: 2 }, false],
    [{ batchSize: 0 }, false],
    [{ batchSize: 1.5 }, false],
    [{ canary: -1 }, false],
    [{ batchSize: Number.NaN }, false],
    [{ type: 'blue-green' as never }, false],
  ];
  for (const [given, pause] of bad) {
    try {
      resolveStrategy(base, given, pause);
      assert.unreachable(JSON.stringify(given));
    } catch (e) {
      assert.instance(e, UsageError, JSON.stringify(given));
      assert.is((e as UsageError).exitCode, 2);
    }
  }
});
res.run();

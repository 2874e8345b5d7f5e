import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leavingState, parseHistory, previousGood, releaseInfos, selectPrune, type HistoryEntry } from '../../src/releases.js';

const h = (release: string, states: HistoryEntry['states'], action: HistoryEntry['action'] = 'switch'): HistoryEntry => ({ time: '2026-01-01T00:00:00Z', action, release, states });

test('history folds into states; current is active; strangers are unknown', () => {
  const hist = [h('A', { A: 'staged' }, 'publish'), h('A', { A: 'active' }), h('B', { B: 'staged' }, 'publish'), h('B', { B: 'active', A: 'superseded' }), h('C', { C: 'failed' }, 'failure')];
  const infos = releaseInfos(hist, ['A', 'B', 'C', 'D', 'E.partial'], 'B');
  assert.equal(
    infos.map((r) => [r.id, r.state, r.current]),
    [
      ['A', 'superseded', false],
      ['B', 'active', true],
      ['C', 'failed', false],
      ['D', 'unknown', false],
    ],
  );
});

test('a torn last history line is skipped', () => {
  const text = `${JSON.stringify(h('A', { A: 'active' }))}\n{"time":"2026`;
  assert.is(parseHistory(text).length, 1);
});

test('previous good skips failed and rolled-back: two rollbacks walk back', () => {
  const infos = releaseInfos([h('A', { A: 'superseded' }), h('B', { B: 'failed' }), h('C', { C: 'rolled-back' }), h('D', { D: 'active' })], ['A', 'B', 'C', 'D'], 'D');
  assert.is(previousGood(infos, 'D')?.id, 'A');
  assert.is(previousGood(infos, 'A'), undefined);
});

test('leaving state: older target rolls back, newer supersedes', () => {
  assert.is(leavingState('B', 'A'), 'rolled-back');
  assert.is(leavingState('A', 'B'), 'superseded');
});

test('prune keeps N newest good, current, previous, next, locked, newest bad, unknown', () => {
  const ids = ['01', '02', '03', '04', '05', '06', '07', '08'];
  const hist = [
    ...ids.map((id) => h(id, { [id]: 'superseded' })),
    h('04', { '04': 'failed' }, 'failure'),
    h('05', { '05': 'failed' }, 'failure'),
    h('08', { '08': 'active' }),
  ];
  const infos = releaseInfos(hist, [...ids, 'manual-copy'], '08');
  const doomed = selectPrune(infos, { keep: 2, current: '08', next: '01', locked: ['02'] });
  // good by id: 08 07 06 03 02 01 -> keep 08 07 (N=2), previous = 07, next 01, locked 02; newest failed 05 kept.
  assert.equal(doomed, ['03', '04', '06']);
});

test('repeated failures never push out the last good release', () => {
  const hist = [h('01', { '01': 'active' }), ...['02', '03', '04', '05', '06'].map((id) => h(id, { [id]: 'failed' }, 'failure'))];
  const infos = releaseInfos(hist, ['01', '02', '03', '04', '05', '06'], '01');
  const doomed = selectPrune(infos, { keep: 1, current: '01' });
  assert.equal(doomed, ['02', '03', '04', '05']);
});

test.run();

test('unknown directories are never pruned, however old or many', () => {
  const hist = ['A', 'B', 'C', 'D'].map((id) => h(id, { [id]: 'superseded' }));
  const infos = releaseInfos(hist, ['0backup', 'A', 'B', 'C', 'D', 'E', '99999999999999'], 'D');
  const doomed = selectPrune(infos, { keep: 1, current: 'D' });
  assert.equal(doomed, ['A', 'B']);
  assert.ok(!doomed.includes('0backup') && !doomed.includes('E') && !doomed.includes('99999999999999'));
});

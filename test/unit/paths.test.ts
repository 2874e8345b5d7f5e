import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isReleaseId, nextReleaseId, Paths, timestampId } from '../../src/paths.js';

test('timestamp ids are UTC YYYYMMDDHHMMSS', () => {
  assert.is(timestampId(new Date('2026-11-22T10:15:00.900Z')), '20261122101500');
});

test('a collision takes the next free second', () => {
  const now = new Date('2026-11-22T10:15:00Z');
  assert.is(nextReleaseId(now, []), '20261122101500');
  assert.is(nextReleaseId(now, ['20261122101500']), '20261122101501');
  assert.is(nextReleaseId(now, ['20261122101500', '20261122101501']), '20261122101502');
});

test('ids stay sortable after a release from a clock that ran ahead', () => {
  const id = nextReleaseId(new Date('2026-11-22T10:15:00Z'), ['20261122120000']);
  assert.is(id, '20261122120001');
  assert.ok(id > '20261122120000');
});

test('release id syntax', () => {
  for (const ok of ['20261122101500', 'v1.2.3', 'a_b-c']) assert.ok(isReleaseId(ok), ok);
  for (const bad of ['', '../x', '/etc', '.hidden', 'a/b', 'x.partial', 'a b', '-x']) assert.not.ok(isReleaseId(bad), bad);
});

test('layout and relative link targets', () => {
  const p = new Paths('/srv/app');
  assert.is(p.current, '/srv/app/current');
  assert.is(p.partial('1'), '/srv/app/releases/1.partial');
  assert.is(p.manifest('1'), '/srv/app/.ship/manifests/1.json');
  assert.is(p.linkTarget('1'), 'releases/1');
  assert.is(p.idFromLink('releases/20261122101500'), '20261122101500');
  assert.is(p.idFromLink('/srv/app/releases/x/'), 'x');
  assert.is(p.idFromLink(null), undefined);
  assert.is(p.sharedLinkTarget('.env'), '../../shared/.env');
  assert.is(p.sharedLinkTarget('public/uploads'), '../../../shared/public/uploads');
});

test.run();

test('directories that are not ship ids never steer id generation (99999999999999 is no date)', () => {
  const now = new Date('2026-11-22T10:15:00Z');
  assert.is(nextReleaseId(now, ['99999999999999', '20261122101500']), '20261122101501');
  assert.is(nextReleaseId(now, ['99999999999999', '20261399000000', '0backup']), '20261122101500');
});

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dechunk, forwardingForbidden, judge, parseHttp } from '../../src/health.js';
import { ShipError } from '../../src/errors.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const test = suite('health: HTTP parsing and judging');

test('Content-Length: complete only once the body is there', () => {
  const full = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello';
  assert.is(parseHttp(b(full.slice(0, 30)), false), undefined);
  assert.is(parseHttp(b(full.slice(0, full.length - 2)), false), undefined);
  assert.equal(parseHttp(b(full), false), { status: 200, body: 'hello' });
  // extra bytes after the body are not part of it
  assert.equal(parseHttp(b(`${full}GARBAGE`), false), { status: 200, body: 'hello' });
});

test('chunked bodies are decoded (chunk extensions too); incomplete until the 0 chunk', () => {
  const raw = 'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nrele\r\n6\r\nase=R1\r\n0\r\n\r\n';
  assert.equal(parseHttp(b(raw), false), { status: 503, body: 'release=R1' });
  assert.is(parseHttp(b(raw.slice(0, raw.indexOf('0\r\n\r\n'))), false), undefined);
  assert.equal(dechunk(b('3\r\nabc\r\n')), { data: b('abc'), complete: false });
});

test('no length: the body is what arrived when the server closed', () => {
  const raw = 'HTTP/1.0 200 OK\r\n\r\nup and running';
  assert.is(parseHttp(b(raw), false), undefined);
  assert.equal(parseHttp(b(raw), true), { status: 200, body: 'up and running' });
  assert.equal(parseHttp(b('HTTP/1.1 204 No Content\r\n\r\n'), false), { status: 204, body: '' });
});

test('1xx interim answers are skipped', () => {
  const raw = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  assert.equal(parseHttp(b(raw), false), { status: 200, body: 'ok' });
});

test('what is not HTTP is an error, early', () => {
  assert.throws(() => parseHttp(b('SSH-2.0-OpenSSH_9.6\r\n'), false), /not an HTTP response/);
  assert.throws(() => parseHttp(b('garbage\r\n\r\n'), false), /not an HTTP response/);
  assert.throws(() => parseHttp(b(''), true), /empty answer/);
  assert.throws(() => parseHttp(b('HTTP/1.1 200 OK\r\nContent-'), true), /incomplete/);
});

test('judge: status first, then the expected text', () => {
  assert.is(judge({ status: 200, body: 'release=R1' }, { expect: 200 }, 'release=R1'), '');
  assert.is(judge({ status: 200, body: 'x' }, { expect: 200 }, undefined), '');
  assert.is(judge({ status: 500, body: 'release=R1' }, { expect: 200 }, 'release=R1'), 'status 500, expected 200');
  assert.match(judge({ status: 200, body: 'release=R0' }, { expect: 200 }, 'release=R1'), 'lacks "release=R1"');
});

test('forwardingForbidden: OpenSSH refusal (reason 1), not a refused port', () => {
  const prohibited = Object.assign(new Error('(SSH) Channel open failure: open failed'), { reason: 1 });
  assert.ok(forwardingForbidden(new ShipError('web1: cannot open a connection to 127.0.0.1:80 from the host: (SSH) Channel open failure: open failed', { cause: prohibited })));
  assert.ok(forwardingForbidden(new Error('administratively prohibited')));
  const refused = Object.assign(new Error('(SSH) Channel open failure: Connection refused'), { reason: 2 });
  assert.not.ok(forwardingForbidden(new ShipError('web1: cannot open a connection to 127.0.0.1:80 from the host: (SSH) Channel open failure: Connection refused', { cause: refused })));
  assert.not.ok(forwardingForbidden(new Error('connect ECONNREFUSED 127.0.0.1:80')));
});

test.run();

/** Errno errors that name a path on this machine become LocalFileError naming it, never "internal error". */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InternalError, LocalFileError, toShipError } from '../../src/errors.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-errno-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

test('ELOOP names the path and says what it is', () => {
  const loop = path.join(tmp, 'loop');
  symlinkSync(loop, loop);
  const e = toShipError(thrown(() => readFileSync(loop)));
  assert.instance(e, LocalFileError);
  assert.not.instance(e, InternalError);
  assert.is(e.message, `${loop}: too many levels of symbolic links (a symlink loop?) (open)`);
  assert.is(e.reason, 'local-file');
  assert.is(e.exitCode, 1);
  assert.match(e.hint ?? '', loop);
});

test('other errnos with a path (ENOTDIR, EISDIR, an unknown code) name it too; EACCES keeps its reason', () => {
  const file = path.join(tmp, 'file');
  writeFileSync(file, 'x');
  const notDir = toShipError(thrown(() => readFileSync(path.join(file, 'x'))));
  assert.instance(notDir, LocalFileError);
  assert.match(notDir.message, `${path.join(file, 'x')}: a part of the path is not a directory`);
  const isDir = toShipError(thrown(() => writeFileSync(tmp, 'x')));
  assert.match(isDir.message, `${tmp}: is a directory`);
  const odd = toShipError(Object.assign(new Error('x'), { code: 'ESTRANGE', path: '/p/q', syscall: 'open' }));
  assert.is(odd.message, '/p/q: ESTRANGE (open)');
  const denied = toShipError(Object.assign(new Error('x'), { code: 'EACCES', path: '/p/q', syscall: 'open' }));
  assert.is(denied.reason, 'local-permission');
  assert.is(denied.message, '/p/q: permission denied (open)');
});

test('an error without a path is still an internal error', () => {
  assert.instance(toShipError(new TypeError('boom')), InternalError);
  assert.instance(toShipError(Object.assign(new Error('x'), { code: 'ELOOP' })), InternalError);
});

test.run();

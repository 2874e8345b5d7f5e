import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { exportEnv, quote, raw, sh } from '../../src/shell.js';

// What /bin/sh makes of a quoted word: it must come back unchanged, never interpreted.
const echoBack = (word: string) => execFileSync('/bin/sh', ['-c', `printf %s ${quote(word)}`]).toString();

test('safe words stay bare', () => {
  assert.is(quote('releases/20261122101500'), 'releases/20261122101500');
  assert.is(quote('a=b'), 'a=b');
});

test('hostile words reach the shell literally', () => {
  for (const w of ["it's", 'a b', '$(touch /tmp/x)', '`id`', '"q"', 'a\\b', '', '-rf', '*', 'x;y', 'line\nbreak', "'"]) {
    assert.is(echoBack(w), w, JSON.stringify(w));
  }
});

test('sh quotes values, keeps template text, joins arrays', () => {
  const dir = '/var/www/my app';
  assert.is(sh`mkdir -p ${dir}`.text, "mkdir -p '/var/www/my app'");
  assert.is(sh`rm -- ${['a', 'b c']}`.text, "rm -- a 'b c'");
  assert.is(sh`x ${raw('&&')} y`.text, 'x && y');
});

test('exportEnv quotes values and refuses bad names', () => {
  const s = exportEnv({ A: "v'$(x)", B: 'plain' }).text;
  const out = execFileSync('/bin/sh', ['-c', `${s} printf '%s|%s' "$A" "$B"`]).toString();
  assert.is(out, "v'$(x)|plain");
  assert.throws(() => exportEnv({ 'BAD-NAME': 'x' }), /not a valid environment variable name/);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDotenv } from '../../src/dotenv.js';

test('dotenv: plain, export, comments, inner spaces, empty', () => {
  const r = parseDotenv('# top\n\nA=1\nexport B = two words  \nC=x # comment\nD=a#b\nE=\n  F=f\n');
  assert.equal(r.values, { A: '1', B: 'two words', C: 'x', D: 'a#b', E: '', F: 'f' });
  assert.equal(r.skipped, []);
});

test('dotenv: shell syntax is data', () => {
  const r = parseDotenv('API_TOKEN=tok ENVFILE-123\nX=$(touch /tmp/pwned)\nY=`id`\nZ=a;b|c&&d\n');
  assert.equal(r.values, { API_TOKEN: 'tok ENVFILE-123', X: '$(touch /tmp/pwned)', Y: '`id`', Z: 'a;b|c&&d' });
});

test('dotenv: single quotes literal, double quotes with escapes, multi-line', () => {
  const r = parseDotenv(`S='a\\nb $X "q"' # c\nD="l1\\nl2\\t\\"q\\" \\\\ \\$HOME \\x"\nM="line1\nline2"\nK='-----BEGIN\nabc\n-----END'\nN=after\n`);
  assert.equal(r.values, {
    S: 'a\\nb $X "q"',
    D: 'l1\nl2\t"q" \\ $HOME \\x',
    M: 'line1\nline2',
    K: '-----BEGIN\nabc\n-----END',
    N: 'after',
  });
});

test('dotenv: bad names and unterminated quotes are skipped by line, CRLF handled', () => {
  const r = parseDotenv('1A=x\nBAD-NAME=y\nnot a line\nU="open\nOK=1\r\nW=2\r\n');
  assert.equal(r.values, { OK: '1', W: '2' });
  assert.equal(r.skipped, [1, 2, 3, 4]);
});

test.run();

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


test('envFile: SHIP_* and PATH never override ship’s own; unparsable lines are reported by number, once', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { LocalTransport } = await import('../../src/transport/local.js');
  const { raw } = await import('../../src/shell.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ship-envfile-'));
  try {
    writeFileSync(
      path.join(dir, '.env'),
      'APP_KEY=from-file\nSHIP_MIGRATION_FILE=evil.sql\nSHIP_BACKFILL_AFTER=999\nPATH=/nonexistent\nnot a line\nOK=1\n3BAD=x\nQ="never closed\n',
    );
    const warnings: string[] = [];
    const t = new LocalTransport('local', (m) => warnings.push(m));
    const opts = {
      cwd: dir,
      env: { SHIP_MIGRATION_FILE: '001.sql', SHIP_BACKFILL_AFTER: '', APP_KEY: 'from-config' },
      envFile: '.env',
    };
    const cmd = raw('printf "%s|%s|%s|%s|%s" "$SHIP_MIGRATION_FILE" "$SHIP_BACKFILL_AFTER" "$APP_KEY" "$OK" "$(command -v sh)"');
    for (let i = 0; i < 2; i++) {
      const r = await t.exec(cmd, opts);
      assert.is(r.code, 0, r.stderr);
      const [file, after, key, ok, shPath] = r.stdout.split('|');
      assert.is(file, '001.sql', 'the migration file is ship’s');
      assert.is(after, '', 'the backfill cursor is ship’s');
      assert.is(key, 'from-file', 'other names: the file wins over the config, as before');
      assert.is(ok, '1');
      assert.ok(shPath.length > 0, 'PATH is not the file’s');
    }
    assert.is(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], `envFile ${path.join(dir, '.env')}: lines 5, 7, 8 not understood (skipped)`);
    assert.match(warnings[0], 'SHIP_MIGRATION_FILE, SHIP_BACKFILL_AFTER, PATH ignored');
    assert.not.match(warnings[0], 'evil.sql');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

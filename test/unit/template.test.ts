import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { substituteFile } from '../../src/migrations/template.js';
import { redactUrl } from '../../src/redact.js';

test('{file} becomes a variable reference in every quoting context', () => {
  assert.is(substituteFile('psql -f {file}'), 'psql -f "$SHIP_MIGRATION_FILE"');
  assert.is(substituteFile('psql -f "{file}"'), 'psql -f "${SHIP_MIGRATION_FILE}"');
  assert.is(substituteFile(`sh -c 'cat {file}'`), `sh -c 'cat "$SHIP_MIGRATION_FILE"'`);
  assert.is(substituteFile(`echo "it's" {file} \\" {file}`), `echo "it's" "$SHIP_MIGRATION_FILE" \\" "$SHIP_MIGRATION_FILE"`);
});

test('redactUrl hides userinfo, query values and fragments', () => {
  assert.is(redactUrl('http://u:p@127.0.0.1:8080/healthz?token=abc&x=1#frag'), 'http://***:***@127.0.0.1:8080/healthz?token=***&x=***#***');
  assert.is(redactUrl('http://127.0.0.1/healthz'), 'http://127.0.0.1/healthz');
  assert.is(redactUrl('https://tok@h/p?flag'), 'https://***@h/p?flag');
});

test.run();

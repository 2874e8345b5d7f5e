import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import ora from 'ora';
import { Events } from '../../src/events.js';
import { stripControls } from '../../src/redact.js';
import { jsonReporter } from '../../src/reporters/json.js';
import { oraReporter } from '../../src/reporters/ora.js';
import { plainReporter } from '../../src/reporters/plain.js';

function sink() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return { s, text: () => text };
}

/** The same events through the plain, the ora and the JSON reporter. */
function report(emit: (events: Events) => void) {
  const outs = { plain: [sink(), sink()], ora: [sink(), sink()], json: [sink(), sink()] } as const;
  const events = new Events();
  events.on(plainReporter(outs.plain[0].s, outs.plain[1].s, { color: false }).handle);
  events.on(oraReporter(outs.ora[0].s, outs.ora[1].s, { color: false }, ora).handle);
  events.on(jsonReporter(outs.json[0].s).handle);
  emit(events);
  return Object.fromEntries(Object.entries(outs).map(([k, [o, e]]) => [k, o.text() + e.text()])) as Record<keyof typeof outs, string>;
}

test('control sequences are stripped, newlines and tabs kept', () => {
  assert.is(stripControls('a\x1b]52;c;Y2xpcA==\x07b'), 'ab');
  assert.is(stripControls('a\x1b]0;title\x1b\\b'), 'ab');
  assert.is(stripControls('\x1b[2J\x1b[31mred\x1b[0m'), 'red');
  assert.is(stripControls('x\x9b31my\x9d52;c;z\x9cw'), 'xyw');
  assert.is(stripControls('one\r\ntwo\tthree\0\x08\x7f'), 'one\ntwo\tthree');
  assert.is(stripControls('plain text, ünïcode'), 'plain text, ünïcode');
});

test('every reporter gets events without secret values, URL credentials or control sequences', () => {
  const out = report((events) => {
    events.secrets.addEnv({ API_KEY: 'key-value-123', SHIP_STAGE: 'prod' });
    events.warn('hook said key-value-123 at https://u:pw@127.0.0.1/x?t=tok \x1b]52;c;Y2xpcA==\x07done', 'host1');
    events.emit({ type: 'step', step: 'publish', status: 'failed', host: 'host1', message: 'key-value-123' });
    events.outcome({ command: 'deploy', stage: 'prod', error: Object.assign(new Error('failed: key-value-123\x1b[2J'), { exitCode: 1 as const, reason: 'command' }) as never });
  });
  for (const [name, text] of Object.entries(out)) {
    for (const bad of ['key-value-123', ':pw@', 't=tok', '\x1b', '\x07', 'Y2xpcA']) assert.not.ok(text.includes(bad), `${name} shows ${JSON.stringify(bad)}: ${text}`);
    assert.match(text, '<redacted>', name);
    assert.match(text, 'https://***:***@127.0.0.1/x?t=***', name);
    assert.match(text, 'prod', `${name}: the stage name stays`);
  }
});

test('a dry run says so in its summary: plain, ora and --json', () => {
  const out = report((events) => events.outcome({ command: 'deploy', stage: 'production', release: '20261207203000', ms: 334, dryRun: true }));
  for (const name of ['plain', 'ora'] as const) {
    assert.match(out[name], 'ship deploy production: dry run ok — would deploy release 20261207203000; nothing was changed (334ms)', name);
    assert.not.match(out[name], ': ok — release', name);
  }
  assert.is(JSON.parse(out.json.trim()).dryRun, true);
  const real = report((events) => events.outcome({ command: 'deploy', stage: 'production', release: '20261207203000', ms: 334 }));
  assert.match(real.plain, 'ship deploy production: ok — release 20261207203000 in 334ms');
  assert.is(JSON.parse(real.json.trim()).dryRun, undefined);
});

test.run();

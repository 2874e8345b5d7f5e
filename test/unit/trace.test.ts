import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Events, type Stamped } from '../../src/events.js';
import { commandLines } from '../../src/reporters/format.js';
import { LocalTransport } from '../../src/transport/local.js';
import { redactText, traceTransport } from '../../src/transport/trace.js';
import { raw } from '../../src/shell.js';

test('redactText hides each secret value wherever it appears, and URL credentials', () => {
  assert.is(redactText('token=s3cr3t-value and s3cr3t-value again', ['s3cr3t-value']), 'token=<redacted> and <redacted> again');
  assert.is(redactText('fetch https://u:pw@example.com/x?key=abc', []), 'fetch https://***:***@example.com/x?key=***');
});

test('a traced transport reports each command as given, with code and redacted output; env values never appear', async () => {
  const events = new Events();
  const seen: Stamped[] = [];
  events.on((e) => seen.push(e));
  const t = traceTransport(new LocalTransport('here'), events);
  const r = await t.exec(raw('echo "v=$API_KEY"; echo oops >&2; exit 3'), { env: { API_KEY: 'hunter2-secret', SHIP_STAGE: 'prod' } });
  assert.is(r.code, 3);
  assert.is(r.stdout, 'v=hunter2-secret\n', 'the caller still gets the real output');
  const cmds = seen.filter((e): e is Extract<Stamped, { type: 'command' }> => e.type === 'command');
  assert.is(cmds.length, 1);
  assert.equal([cmds[0].host, cmds[0].kind, cmds[0].command, cmds[0].code, cmds[0].stdout, cmds[0].stderr], ['here', 'exec', 'echo "v=$API_KEY"; echo oops >&2; exit 3', 3, 'v=<redacted>\n', 'oops\n']);
  assert.not.match(JSON.stringify(seen), 'hunter2');
  const lines = commandLines(cmds[0]);
  assert.match(lines[0], /^\$ echo "v=\$API_KEY"; echo oops >&2; exit 3 {2}\(exit 3, /);
  assert.equal(lines.slice(1), ['  | v=<redacted>', '  ! oops']);
});

test('what a transport has beyond the interface stays reachable, bound to the real one', () => {
  class Extra extends LocalTransport {
    secret = 'own field';
    openPty() {
      return this.secret;
    }
  }
  const t = traceTransport(new Extra('here'), new Events()) as unknown as Extra;
  assert.is(t.openPty(), 'own field');
  assert.is(t.name, 'here');
});

test('commandLines: a script over several lines, NULs and escape sequences made visible', () => {
  const e = { type: 'command', time: '', host: 'h', kind: 'exec', command: 'a\nb', code: 0, ms: 5, stdout: 'x\0y\x1b[2J\n', stderr: '' } as const;
  assert.equal(commandLines(e), ['$ a', '  > b  (exit 0, 5ms)', '  | x\u2400y?[2J']);
  assert.match(commandLines({ ...e, kind: 'file', command: 'rename a -> b', stdout: '' })[0], /^~ rename a -> b/);
});

test.run();

/** The two-color health check's token and listener settings (docs/blue-green.md, Health check). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hideToken, newHealthToken } from '../../src/colors/runtime.js';
import { parseConfig } from '../../src/config/load.js';
import { configProblems } from '../harness/config.js';
import { judgeColor } from '../../src/steps/color-health.js';
import { Events, type Stamped } from '../../src/events.js';
import { LocalTransport } from '../../src/transport/local.js';
import { traceTransport } from '../../src/transport/trace.js';
import { raw } from '../../src/shell.js';

const t = suite('health token');
const TOKEN = newHealthToken();
const OTHER = newHealthToken();
const hc = (contains?: string) => ({ expect: 200, contains });
const ok = (body: string) => ({ status: 200, body });

t('a new token per start: 48 hex characters, never the same twice', () => {
  assert.match(TOKEN, /^[0-9a-f]{48}$/);
  assert.is.not(TOKEN, OTHER);
});
t('a process this run started must show its token, whether contains names it or not', () => {
  assert.is(judgeColor(ok(`ok release=R1 token=${TOKEN}`), hc('release={release}'), 'R1', TOKEN), '');
  assert.is(judgeColor(ok(`ok release=R1 token=${TOKEN}`), hc('release={release} token={token}'), 'R1', TOKEN), '');
  assert.is(judgeColor(ok(TOKEN), hc(), 'R1', TOKEN), '');
  assert.match(judgeColor(ok('ok release=R1 token='), hc('release={release}'), 'R1', TOKEN), "lacks this run's health token");
  assert.match(judgeColor(ok(`ok release=R1 token=${OTHER}`), hc('release={release}'), 'R1', TOKEN), "lacks this run's health token");
  assert.match(judgeColor(ok(`ok release=R1 token=${OTHER}`), hc('release={release} token={token}'), 'R1', TOKEN), 'lacks "release=R1 token={token}"');
  assert.match(judgeColor(ok(`release=R1 x token=${TOKEN}`), hc('release={release} token={token}'), 'R1', TOKEN), 'lacks');
});
t('a process an earlier run started (a rollback to the color kept): any token of its form', () => {
  assert.is(judgeColor(ok(`ok release=R1 token=${OTHER}`), hc('release={release} token={token}'), 'R1', undefined), '');
  assert.is(judgeColor(ok('ok release=R1'), hc('release={release}'), 'R1', undefined), '');
  assert.match(judgeColor(ok('ok release=R1 token=x'), hc('release={release} token={token}'), 'R1', undefined), 'lacks');
});
t('the token never appears in a failure text', () => {
  const texts = [
    judgeColor(ok(`release=R0 token=${TOKEN}`), hc('release={release} token={token}'), 'R1', TOKEN),
    judgeColor(ok(`${'x'.repeat(60)}${TOKEN}`), hc('nope'), 'R1', TOKEN),
    judgeColor({ status: 503, body: TOKEN }, hc(), 'R1', TOKEN),
  ];
  for (const s of texts) {
    assert.ok(s.length > 0);
    assert.not.ok(s.includes(TOKEN) || s.includes(TOKEN.slice(0, 12)), s);
  }
  assert.is(hideToken(`a ${TOKEN} b ${TOKEN}`, TOKEN), 'a <health token> b <health token>');
});
t('--verbose: SHIP_HEALTH_TOKEN (unlike other SHIP_* values) and values passed as redact never reach a command event', async () => {
  const events = new Events();
  const seen: Stamped[] = [];
  events.on((e) => seen.push(e));
  const tr = traceTransport(new LocalTransport('here'), events);
  const r = await tr.exec(raw('echo "$SHIP_HEALTH_TOKEN $SHIP_STAGE"; echo "body ' + OTHER + '" >&2'), { env: { SHIP_HEALTH_TOKEN: TOKEN, SHIP_STAGE: 'prod' }, redact: [OTHER] });
  assert.is(r.stdout, `${TOKEN} prod\n`, 'the caller gets the real output');
  const text = JSON.stringify(seen);
  assert.not.ok(text.includes(TOKEN) || text.includes(OTHER), text);
  assert.match(text, 'prod');
});
t.run();

const c = suite('health token and listener config');
const FILE = '/tmp/ship.config.json';
const base = {
  app: 'shop',
  processes: { start: 'start {port}', stop: 'stop {port}' },
  ports: { blue: 3001, green: 3002 },
  healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: '{release} {token}' },
  stages: { prod: { hosts: ['a.example.com'] } },
};
const problems = (input: object) => configProblems(input, FILE);
c('checkListener is on unless turned off', () => {
  assert.is(parseConfig(base, FILE).stage('prod').colors?.checkListener, true);
  assert.is(parseConfig({ ...base, processes: { ...base.processes, checkListener: false } }, FILE).stage('prod').colors?.checkListener, false);
});
c('{token} in the URL (ship never sends it) or without two colors is a config error', () => {
  assert.match(problems({ ...base, healthcheck: { url: 'http://127.0.0.1:{port}/healthz?t={token}' } }).join('\n'), 'healthcheck.url: {token} in the health-check URL');
  assert.match(problems({ ...base, processes: undefined, ports: undefined, healthcheck: { url: 'http://127.0.0.1:3000/healthz', contains: '{token}' } }).join('\n'), 'healthcheck.contains: {token} without two colors');
});
c.run();

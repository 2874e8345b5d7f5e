import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPhpFpmReload, phpFpmMasters, processControlTimeout } from '../../src/commands/check.js';
import { projectKind } from '../../src/commands/init.js';

test('isPhpFpmReload: the ways a stage reloads php-fpm, and reloads that are not', () => {
  for (const r of [
    'sudo systemctl reload php8.2-fpm',
    'sudo service php8.3-fpm reload',
    'systemctl reload php-fpm',
    'sudo /usr/bin/systemctl reload php8.2-fpm.service',
    'kill -USR2 $(cat /run/php/php8.2-fpm.pid)',
    'kill -s USR2 "$(cat /var/run/php-fpm.pid)"',
    'kill -USR2 "$(cat "$PHP_FPM_PID")"',
  ]) {
    assert.ok(isPhpFpmReload(r), r);
  }
  for (const r of [undefined, 'pm2 reload web', 'sudo systemctl reload nginx', 'sudo systemctl restart php8.2-fpm', 'true', 'kill -USR1 $(cat /run/php/php8.2-fpm.pid)']) {
    assert.not.ok(isPhpFpmReload(r), String(r));
  }
});

test('processControlTimeout: read from php-fpm -tt output, in seconds; absent is undefined', () => {
  const tt = (v: string) => `[07-Dec-2026 20:31:26] NOTICE: \tpid = /run/php/php8.2-fpm.pid\n[07-Dec-2026 20:31:26] NOTICE: \tprocess_control_timeout = ${v}\n[07-Dec-2026 20:31:26] NOTICE: \tprocess.max = 0\n`;
  assert.is(processControlTimeout(tt('0s')), 0);
  assert.is(processControlTimeout(tt('10s')), 10);
  assert.is(processControlTimeout(tt('2m')), 120);
  assert.is(processControlTimeout(tt('5')), 5);
  assert.is(processControlTimeout('ERROR: failed to open configuration file'), undefined);
});

test('phpFpmMasters: pid and config of each master from ps, workers ignored', () => {
  const ps = [
    '    1 /sbin/init',
    '  812 php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)',
    '  813 php-fpm: pool www',
    ' 9001 php-fpm8.3: master process (/etc/php/8.3/fpm/php-fpm.conf)',
    ' 9002 grep php-fpm: master process',
  ].join('\n');
  assert.equal(phpFpmMasters(ps), [
    { pid: 812, conf: '/etc/php/8.2/fpm/php-fpm.conf' },
    { pid: 9001, conf: '/etc/php/8.3/fpm/php-fpm.conf' },
  ]);
});

test('projectKind: composer.json or the php-fpm template make a PHP project; otherwise Node', () => {
  assert.is(projectKind({ composer: true, templates: [] }), 'php');
  assert.is(projectKind({ composer: true, templates: ['nginx'] }), 'php');
  assert.is(projectKind({ composer: false, templates: ['php-fpm'] }), 'php');
  assert.is(projectKind({ composer: false, templates: ['nginx', 'pm2'] }), 'node');
  assert.is(projectKind({ composer: false, templates: [] }), 'node');
});

test.run();

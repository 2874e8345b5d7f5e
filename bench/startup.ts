/**
 * Start-up time of the built CLI (`node bin/ship.js`), timed from spawn to exit, median of
 * BENCH_STARTUP_RUNS (default 10) runs each:
 *
 *   node -e 0                       node's own start, for reference
 *   ship --version                  answered by bin/ship.js without loading the CLI
 *   ship --help                     yargs and the command table
 *   ship releases prod (.json)      config found, parsed, validated; a local host read
 *   ship releases prod (.ts warm)   ship.config.ts importing ./hosts.ts, jiti's cache warm
 *   ship releases prod (.ts cold)   the same with an empty cache directory each run
 *
 * The project deploys to a temp dir on this machine (`hosts: ['local']`), with one release
 * in it. No test asserts on these figures (the machine is shared); the table is the record.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, rmrf, tmpDir } from '../test/harness/ship.js';
import { median } from './tools.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS || 10);
/** SHIP_BIN=<path to bin/ship.js>: time another build (an older checkout) on the same machine. */
const BIN = process.env.SHIP_BIN ? path.resolve(process.env.SHIP_BIN) : path.join(ROOT, 'bin/ship.js');

const work = tmpDir('ship-bench-startup-');
process.on('exit', () => rmrf(work));

function project(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'build'), { recursive: true });
  writeFileSync(path.join(dir, 'build/index.html'), '<h1>hello</h1>\n');
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

const deployTo = (name: string) => path.join(work, `${name}-deploy`);
const jsonDir = project('json', {
  'ship.config.json': JSON.stringify({ app: 'bench', build: { dir: 'build' }, stages: { prod: { hosts: ['local'], deployTo: deployTo('json') } } }, null, 2),
});
const tsDir = project('ts', {
  'hosts.ts': `export const hosts: string[] = ['local'];\nexport const deployTo: string = ${JSON.stringify(deployTo('ts'))};\n`,
  'ship.config.ts': [
    "import { hosts, deployTo } from './hosts.ts';",
    '',
    'interface Stage { hosts: string[]; deployTo: string }',
    "const prod: Stage = { hosts, deployTo };",
    '',
    "export default { app: 'bench', build: { dir: 'build' }, stages: { prod } };",
    '',
  ].join('\n'),
});

function ship(cwd: string, args: string[], env: Record<string, string> = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`ship ${args.join(' ')} in ${cwd} exited ${r.status}:\n${r.stderr}`);
  return ms;
}

function time(label: string, once: () => number): { label: string; ms: number; min: number } {
  once(); // one untimed run: the file system cache is warm for every case alike
  const xs = Array.from({ length: RUNS }, once);
  return { label, ms: median(xs), min: Math.min(...xs) };
}

const warmCache = path.join(work, 'ts-cache');
for (const dir of [jsonDir, tsDir]) ship(dir, ['deploy', 'prod'], { SHIP_TS_CACHE: warmCache });

let cold = 0;
const rows = [
  time('node -e 0', () => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }),
  time('ship --version', () => ship(jsonDir, ['--version'])),
  time('ship --help', () => ship(jsonDir, ['--help'])),
  time('ship releases prod (.json)', () => ship(jsonDir, ['releases', 'prod'])),
  time('ship releases prod (.ts, cache warm)', () => ship(tsDir, ['releases', 'prod'], { SHIP_TS_CACHE: warmCache })),
  time('ship releases prod (.ts, cache cold)', () => ship(tsDir, ['releases', 'prod'], { SHIP_TS_CACHE: path.join(work, `cold-${cold++}`) })),
];

const w = Math.max(...rows.map((r) => r.label.length));
process.stdout.write(`\nstart-up of ${path.relative(process.cwd(), BIN) || BIN}, median (min) of ${RUNS} runs, node ${process.version}\n`);
for (const r of rows) process.stdout.write(`  ${r.label.padEnd(w)}  ${(r.ms / 1000).toFixed(3)} s  (${(r.min / 1000).toFixed(3)} s)\n`);

import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import type { CommandOptions, CommandResult } from './api.js';
import { ConfigError, ShipError, toShipError, UsageError } from './errors.js';
import { Events } from './events.js';
import { attachReporter } from './reporters/index.js';
import { errorLines } from './reporters/format.js';

interface Common {
  config?: string;
  cwd?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  color?: boolean;
  lockWait?: number;
  [k: string]: unknown;
}

type Handler = (stage: string, a: Common, o: CommandOptions) => Promise<CommandResult>;

/** Common flags, then the command table; each command's body is imported when it runs. */
function commands(y: Argv, run: (h: Handler) => (a: Common) => Promise<void>): Argv {
  const stage = (c: Argv) => c.positional('stage', { type: 'string', describe: 'stage name from the config', demandOption: true });
  const locking = (c: Argv) => c.option('lock-wait', { type: 'number', describe: 'seconds to wait for a held lock' });
  return y
    .command(
      'deploy <stage>',
      'build, upload, migrate, switch, reload, check health, prune',
      (c) =>
        locking(stage(c))
          .option('dry-run', { type: 'boolean', describe: 'connect and read, print the plan, change nothing' })
          // yargs reads --no-switch as switch: false (boolean negation), so the option is `switch`
          .option('switch', { type: 'boolean', describe: 'switch after publishing; --no-switch points `next` at the release and leaves `current`' })
          .option('strategy', { choices: ['all-at-once', 'rolling', 'canary'] as const })
          .option('batch', { type: 'number', describe: 'hosts per batch (rolling, canary)' })
          .option('canary', { type: 'number', describe: 'hosts in the canary batch' })
          .option('pause', { type: 'boolean', describe: 'stop after the canary; `ship switch` continues' })
          .option('hosts', { type: 'string', describe: 'only these hosts (comma-separated names)' })
          .option('roles', { type: 'string', describe: 'only hosts with these roles (comma-separated)' }),
      run(async (s, a, o) => (await import('./commands/deploy.js')).deploy(o)),
    )
    .command(
      'rollback <stage>',
      'flip back to the previous good release (no upload)',
      (c) =>
        locking(stage(c))
          .option('to', { type: 'string', describe: 'the release id to go to' })
          .option('force', { type: 'boolean', describe: 'roll back past an applied contract migration' }),
      run(async (s, a, o) => (await import('./commands/deploy.js')).rollback(o)),
    )
    .command(
      'releases <stage>',
      'per host: releases, state, current, age, revision',
      (c) => stage(c),
      run(async (s, a, o) => {
        const { releases, releasesTable } = await import('./commands/releases.js');
        return releases(o, (rows) => {
          if (a.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
          else process.stdout.write(`${releasesTable(rows)}\n`);
        });
      }),
    )
    .command(
      'prune <stage>',
      'remove old releases, keeping keepReleases (or --keep N)',
      (c) => locking(stage(c)).option('keep', { type: 'number', describe: 'good releases to keep' }),
      run(async (s, a, o) => (await import('./commands/releases.js')).prune(o)),
    )
    .command(
      'unlock <stage>',
      'remove a lock left by a killed run',
      (c) => stage(c),
      run(async (s, a, o) => (await import('./commands/releases.js')).unlock(o)),
    )
    .command(
      'switch <stage> [release]',
      'make `next` (or the named release) live, with the stage strategy',
      (c) =>
        locking(stage(c))
          .positional('release', { type: 'string', describe: 'release id (default: what `next` points at)' })
          .option('strategy', { choices: ['all-at-once', 'rolling', 'canary'] as const })
          .option('batch', { type: 'number' })
          .option('canary', { type: 'number' })
          .option('pause', { type: 'boolean', describe: 'stop after the canary; `ship switch` continues' })
          .option('hosts', { type: 'string' })
          .option('roles', { type: 'string' }),
      run(async (s, a, o) => (await import('./commands/switch.js')).switchRelease({ ...o, release: a.release as string | undefined })),
    )
    .command(
      'status <stage>',
      'current release per host, lock, pending migrations',
      (c) => stage(c),
      run(async (s, a, o) => (await import('./commands/status.js')).status(o, printer(a))),
    )
    .command(
      'migrate <stage>',
      'run pending migrations (expand; --contract for contract ones)',
      (c) =>
        locking(stage(c))
          .option('contract', { type: 'boolean', describe: 'run the contract migrations that are runnable now' })
          .option('status', { type: 'boolean', describe: 'list applied and pending migrations' })
          .option('dry-run', { type: 'boolean', describe: 'show what would run' }),
      run(async (s, a, o) =>
        (await import('./commands/migrate.js')).migrate({ ...o, contract: !!a.contract, status: !!a.status }, printer(a)),
      ),
    )
    .command(
      'check <stage>',
      'preflight: reach, auth, host keys, dirs, perms, disk, tools, shared files, rename, health route',
      (c) => stage(c),
      run(async (s, a, o) => (await import('./commands/check.js')).check(o, printer(a))),
    )
    .command(
      'maintenance <stage> <mode>',
      'put up or take down the maintenance page',
      (c) => locking(stage(c)).positional('mode', { choices: ['on', 'off'] as const, demandOption: true }),
      run(async (s, a, o) => (await import('./commands/maintenance.js')).maintenance(o, a.mode as 'on' | 'off')),
    )
    .command(
      'exec <stage> [words..]',
      'run a command in `current` on every host (ship exec prod -- ls -la)',
      (c) => stage(c).positional('words', { type: 'string', array: true }),
      run(async (s, a, o) => (await import('./commands/exec.js')).execCommand(o, [...((a.words as string[] | undefined) ?? []), ...(a._ as unknown[]).slice(1).map(String)], printer(a))),
    )
    .command(
      'init',
      'write a starter config and templates',
      (c) =>
        c
          .option('template', { type: 'string', array: true, describe: 'templates to copy: nginx, pm2, systemd, php-fpm' })
          .option('format', { choices: ['ts', 'json', 'yaml'] as const, describe: 'config file format (default ts)' })
          .option('force', { type: 'boolean', describe: 'overwrite existing files' }),
      run(async (s, a, o) =>
        (await import('./commands/init.js')).init(o, { templates: a.template as string[] | undefined, force: !!a.force, format: a.format as 'ts' | 'json' | 'yaml' | undefined }, printer(a)),
      ),
    );
}

/** Results of a query: JSON lines with --json, else text. Always stdout. */
export type Printer = (rows: object[], text: string) => void;

function printer(a: Common): Printer {
  return (rows, text) => {
    if (a.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    else if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
}

const QUERIES = new Set(['releases', 'status', 'check', 'exec', 'init']);


export async function runCli(argv: string[]): Promise<number> {
  let exitCode = 0;
  const jsonWanted = argv.includes('--json');
  const run =
    (h: Handler) =>
    async (a: Common): Promise<void> => {
      const cmd = String((a._ as unknown[])[0]);
      const events = new Events();
      const query = QUERIES.has(cmd) || (cmd === 'migrate' && !!a.status);
      const reporter = attachReporter(events, {
        json: !!a.json,
        verbose: !!a.verbose,
        quiet: !!a.quiet || (query && !a.verbose),
        color: a.color !== false,
      });
      // A query's --json prints its result objects, then errors and the summary.
      if (query && a.json) {
        reporter.close();
        const r2 = attachReporter(new Events(), { json: true });
        events.on((e) => (e.type === 'summary' || e.type === 'error' ? r2.handle(e) : undefined));
      }
      try {
        const o: CommandOptions = {
          stage: String(a.stage),
          cwd: a.cwd,
          configFile: a.config,
          events,
          dryRun: a.dryRun as boolean | undefined,
          noSwitch: a.switch === false ? true : undefined,
          lockWait: a.lockWait,
          to: a.to as string | undefined,
          force: a.force as boolean | undefined,
          keep: a.keep as number | undefined,
          pause: a.pause as boolean | undefined,
          strategy: strategyFlags(a),
          concurrency: a.concurrency as number | undefined,
          hosts: splitList(a.hosts),
          roles: splitList(a.roles),
        };
        if (a.keep !== undefined && (!Number.isInteger(a.keep) || (a.keep as number) < 1)) throw new UsageError('--keep takes a whole number of at least 1');
        const result = await h(String(a.stage), a, o);
        exitCode = result.exitCode;
      } catch (e) {
        const err = toShipError(e);
        exitCode = err.exitCode;
        events.emit({ type: 'error', code: err.exitCode, reason: err.reason, message: err.message, host: err.host, hint: err.hint });
        events.emit({ type: 'summary', command: cmd, stage: String(a.stage), exitCode: err.exitCode, hosts: [], ms: 0, steps: {}, bytesSent: 0, pruned: {} });
      } finally {
        reporter.close();
      }
    };

  const y = commands(yargs(argv), run)
    .scriptName('ship')
    .usage('$0 <command> <stage> [options]')
    .option('config', { type: 'string', describe: 'config file (default: searched from --cwd upward)' })
    .option('cwd', { type: 'string', describe: 'directory to run in' })
    .option('json', { type: 'boolean', describe: 'one JSON event per line on stdout' })
    .option('verbose', { type: 'boolean', describe: 'more detail, plain lines' })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'only errors and the summary' })
    .option('concurrency', { type: 'number', describe: 'hosts worked on at once (default 8)' })
    .option('color', { type: 'boolean', default: true, describe: 'colored output (--no-color to turn off)' })
    .demandCommand(1, 'name a command: ship <command> <stage>')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(shipVersion())
    .alias('v', 'version')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err instanceof ShipError ? err : new UsageError(msg || err?.message || 'invalid command line', { hint: 'ship --help' });
    });

  try {
    await y.parseAsync();
  } catch (e) {
    const err = toShipError(e);
    if (jsonWanted) {
      const time = new Date().toISOString();
      process.stdout.write(`${JSON.stringify({ type: 'error', time, code: err.exitCode, reason: err.reason, message: err.message, hint: err.hint })}\n`);
      process.stdout.write(`${JSON.stringify({ type: 'summary', time, command: argv[0] ?? '', stage: '', exitCode: err.exitCode, hosts: [], ms: 0, steps: {}, bytesSent: 0, pruned: {} })}\n`);
    } else {
      for (const l of errorLines({ type: 'error', time: '', code: err.exitCode, reason: err.reason, message: err.message, hint: err.hint })) process.stderr.write(`${l}\n`);
    }
    return err.exitCode;
  }
  return exitCode;
}

/** --strategy/--batch/--canary as overrides of the stage's strategy (checked in loadStage). */
function strategyFlags(a: Common): CommandOptions['strategy'] {
  if (a.strategy === undefined && a.batch === undefined && a.canary === undefined) return undefined;
  return { type: a.strategy as 'all-at-once' | 'rolling' | 'canary' | undefined, batchSize: a.batch as number | undefined, canary: a.canary as number | undefined };
}

function splitList(v: unknown): string[] | undefined {
  if (typeof v !== 'string' || !v) return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** ship's own version: the package.json beside dist/ (or src/), never the project's. */
export function shipVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The only place ship exits. */
export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv);
  process.exitCode = code;
  // Give stdout a moment to drain, then make sure no stray handle keeps us alive.
  setTimeout(() => process.exit(code), 200).unref();
}

export { ConfigError };

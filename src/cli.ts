import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from './package-root.js';
import yargs, { type Argv } from 'yargs';
import type { CommandOptions, CommandResult } from './run-command.js';
import { ConfigError, ShipError, toShipError, UsageError } from './errors.js';
import { Events } from './events.js';
import { attachReporter, colorWanted, prepareReporter } from './reporters/index.js';
import { errorLines } from './reporters/format.js';
import { guardProcess } from './process-guard.js';
import { printer as rowPrinter, type Printer } from './reporters/rows.js';
import { STRATEGY_NAMES, type StrategyType } from './strategies/index.js';

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
  const locking = (c: Argv) =>
    c
      .option('lock-wait', { type: 'number', describe: 'seconds to wait for a held lock' })
      // Every command that writes can say what it would do instead (read-only transport).
      .option('dry-run', { type: 'boolean', describe: 'connect and read, say what would change, change nothing' });
  return y
    .command(
      'deploy <stage>',
      'build, upload, migrate, switch, reload, check health, prune',
      (c) =>
        locking(stage(c))
          .option('dry-run', { type: 'boolean', describe: 'connect and read, print the plan, change nothing' })
          // yargs reads --no-switch as switch: false (boolean negation), so the option is `switch`
          .option('switch', { type: 'boolean', describe: 'switch after publishing; --no-switch points `next` at the release and leaves `current`' })
          .option('strategy', { choices: STRATEGY_NAMES })
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
      run(async (s, a, o) => (await import('./commands/releases.js')).releases(o, printer(a))),
    )
    .command(
      'prune <stage>',
      'remove old releases, keeping keepReleases (or --keep N)',
      (c) => locking(stage(c)).option('keep', { type: 'number', describe: 'good releases to keep' }),
      run(async (s, a, o) => (await import('./commands/releases.js')).prune(o)),
    )
    .command(
      'unlock <stage>',
      'remove a stale lock left by a killed run (--force: a live one too)',
      (c) => stage(c).option('force', { type: 'boolean', describe: 'remove a lock whose holder still beats' }),
      run(async (s, a, o) => (await import('./commands/releases.js')).unlock(o)),
    )
    .command(
      'switch <stage> [release]',
      'make `next` (or the named release) live, with the stage strategy',
      (c) =>
        locking(stage(c))
          .positional('release', { type: 'string', describe: 'release id (default: what `next` points at)' })
          .option('strategy', { choices: STRATEGY_NAMES })
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
      'run pending migrations (expand, then backfills; --backfill for backfills alone; --contract for contract ones)',
      (c) =>
        locking(stage(c))
          .option('contract', { type: 'boolean', describe: 'run the contract migrations that are runnable now' })
          .option('backfill', { type: 'boolean', describe: 'run or resume the backfill migrations alone, in batches' })
          .option('status', { type: 'boolean', describe: 'list applied and pending migrations' })
          .option('dry-run', { type: 'boolean', describe: 'show what would run' }),
      run(async (s, a, o) =>
        (await import('./commands/migrate.js')).migrate({ ...o, contract: !!a.contract, status: !!a.status, backfill: !!a.backfill }, printer(a)),
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
      'setup <stage>',
      'prepare every host (deploy dir, releases/, shared/, .ship/) and upload shared files such as .env',
      (c) =>
        locking(stage(c))
          .option('upload', { type: 'string', array: true, describe: 'upload a file into shared/: <name>=<local file> (repeatable; .env* get mode 0600)' })
          .option('upload-secret', { type: 'string', array: true, describe: 'like --upload, and the file gets mode 0600 whatever its name' })
          .option('force', { type: 'boolean', describe: 'replace shared files that differ (the old one is kept as <name>.<timestamp>.bak)' })
          .option('dry-run', { type: 'boolean', describe: 'say what would be created and uploaded, change nothing' }),
      run(async (s, a, o) => (await import('./commands/setup.js')).setupCommand(o, (a.upload as string[] | undefined) ?? [], (a.uploadSecret as string[] | undefined) ?? [])),
    )
    .command(
      'history <stage>',
      'who deployed, switched, rolled back, pruned or set up what, and when: newest first, across hosts',
      (c) => stage(c).option('limit', { type: 'number', describe: 'only the newest N events' }),
      run(async (s, a, o) => (await import('./commands/history.js')).history(o, a.limit as number | undefined, printer(a))),
    )
    .command(
      'config <stage>',
      'the stage as resolved for each host (every merge, ~/.ssh/config, ProxyJump), secrets redacted',
      (c) => stage(c),
      run(async (s, a, o) => (await import('./commands/config.js')).showConfig(o, printer(a))),
    )
    .command(
      'ssh <stage> [host] [words..]',
      'a shell (or, after --, one command) on a host, in `current`, on a terminal; exits with the remote exit code',
      (c) =>
        stage(c)
          .positional('host', { type: 'string', describe: 'host name (needed when the stage has several)' })
          .positional('words', { type: 'string', array: true, describe: 'a command to run instead of the login shell (after --)' }),
      run(async (s, a, o) =>
        (await import('./commands/ssh.js')).sshCommand(o, a.host as string | undefined, [...((a.words as string[] | undefined) ?? []), ...(a._ as unknown[]).slice(1).map(String)]),
      ),
    )
    .command(
      'init',
      'write a starter config and templates',
      (c) =>
        c
          .option('template', { type: 'string', array: true, describe: 'templates to copy: nginx, nginx-bluegreen, pm2, systemd, php-fpm' })
          .option('format', { choices: ['ts', 'json', 'yaml'] as const, describe: 'config file format (default ts)' })
          .option('force', { type: 'boolean', describe: 'overwrite existing files' }),
      run(async (s, a, o) =>
        (await import('./commands/init.js')).init(o, { templates: a.template as string[] | undefined, force: !!a.force, format: a.format as 'ts' | 'json' | 'yaml' | undefined }, printer(a)),
      ),
    );
}

/** The query's printer for these arguments (src/reporters/rows.ts). */
function printer(a: Common): Printer {
  return rowPrinter(String((a._ as unknown[])[0]), !!a.json);
}

const QUERIES = new Set(['releases', 'status', 'check', 'exec', 'init', 'history', 'config', 'ssh']);


export async function runCli(argv: string[]): Promise<number> {
  let exitCode = 0;
  const jsonWanted = argv.includes('--json');
  if (argv.includes('--get-yargs-completions')) completionStages = await stageNames(argv, true);
  const run =
    (h: Handler) =>
    async (a: Common): Promise<void> => {
      const cmd = String((a._ as unknown[])[0]);
      const events = new Events();
      const query = QUERIES.has(cmd) || (cmd === 'migrate' && !!a.status);
      const ropts = {
        json: !!a.json,
        verbose: !!a.verbose,
        quiet: !!a.quiet || (query && !a.verbose),
        color: colorWanted(a.color as boolean | undefined),
        // A query's table is its output: no summary block after it (--json keeps the summary line).
        summary: !query,
      };
      await prepareReporter(ropts);
      const reporter = attachReporter(events, ropts);
      // A query's --json prints its result objects, then errors and the summary.
      if (query && a.json) {
        reporter.close();
        const r2 = attachReporter(new Events(), { json: true });
        events.on((e) => (e.type === 'summary' || e.type === 'error' ? r2.handle(e) : undefined));
      }
      const guard = guardProcess(events, cmd);
      try {
        const o: CommandOptions = {
          stage: String(a.stage),
          cwd: a.cwd,
          configFile: a.config,
          events,
          signal: guard.signal,
          cancel: guard.cancel,
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
          verbose: a.verbose as boolean | undefined,
        };
        if (a.keep !== undefined && (!Number.isInteger(a.keep) || (a.keep as number) < 1)) throw new UsageError('--keep takes a whole number of at least 1');
        const result = await h(String(a.stage), a, o);
        exitCode = result.exitCode;
      } catch (e) {
        exitCode = events.outcome({ command: cmd, stage: String(a.stage), error: toShipError(e), dryRun: !!a.dryRun });
      } finally {
        guard.dispose();
        reporter.close();
      }
    };

  const y = commands(yargs(argv), run)
    .scriptName('ship')
    .usage('$0 <command> <stage> [options]')
    .option('config', { type: 'string', describe: 'config file (default: searched from --cwd upward)' })
    .option('cwd', { type: 'string', describe: 'directory to run in' })
    .option('json', { type: 'boolean', describe: 'one JSON event per line on stdout' })
    .option('verbose', { type: 'boolean', describe: 'more detail, plain lines: every remote command run on each host and its output, on stderr (secret values redacted)' })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'only errors and the summary' })
    .option('concurrency', { type: 'number', describe: 'hosts worked on at once (default 8)' })
    .option('color', { type: 'boolean', default: true, describe: 'colored output (--no-color to turn off)' })
    // yargs' typings miss the four-argument form (current, argv, defaults, done).
    .completion('completion', 'print a bash/zsh completion script: ship completion >> ~/.bashrc', completeWords as never)
    .check(numbersAreNumbers, true)
    .demandCommand(1, 'name a command: ship <command> <stage>')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(shipVersion())
    .alias('v', 'version')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err instanceof ShipError) throw err;
      throw usageProblem(msg || err?.message || 'invalid command line', argv);
    });

  try {
    await y.parseAsync();
  } catch (e) {
    let err = toShipError(e);
    if (err.reason === 'missing-stage') err = new UsageError(err.message, { hint: await stagesHint(argv) });
    if (jsonWanted) {
      const events = new Events();
      const reporter = attachReporter(events, { json: true });
      events.outcome({ command: argv[0] ?? '', stage: '', error: err });
      reporter.close();
    } else {
      const e = new Events().secrets.scrub({ type: 'error', time: '', code: err.exitCode, reason: err.reason, message: err.message, hint: err.hint } as const);
      for (const l of errorLines(e)) process.stderr.write(`${l}\n`);
    }
    return err.exitCode;
  }
  return exitCode;
}

/** Numeric flags given a word (`--lock-wait abc`) are usage errors, not NaN. */
function numbersAreNumbers(a: Record<string, unknown>): true {
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === 'number' && Number.isNaN(v) && !/[A-Z]/.test(k)) {
      throw new UsageError(`--${k} takes a number`, { hint: `e.g. --${k} 30` });
    }
  }
  return true;
}

/** yargs' complaint, made helpful: the unknown word named, a near flag or command suggested, stages listed. */
function usageProblem(msg: string, argv: string[]): UsageError {
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) {
    const words = unknown[1].split(', ');
    const flags = argv.filter((w) => w.startsWith('-')).map((w) => w.replace(/^-+/, '').replace(/=.*$/, ''));
    const known = FLAGS;
    const hints: string[] = [];
    for (const w of words) {
      if (flags.includes(w)) {
        const near = closest(w, known);
        if (near) hints.push(`--${w}: did you mean --${near}?`);
      } else if (w === argv[0]) {
        const near = closest(w, COMMANDS);
        return new UsageError(`unknown command '${w}'`, { hint: near ? `did you mean \`ship ${near}\`? (ship --help lists the commands)` : `commands: ${COMMANDS.join(', ')}` });
      }
    }
    return new UsageError(`unknown ${words.length > 1 ? 'arguments' : 'argument'}: ${words.map((w) => (flags.includes(w) ? `--${w}` : w)).join(', ')}`, { hint: hints.join('; ') || 'ship --help' });
  }
  if (/Not enough non-option arguments/.test(msg) && argv[0] && COMMANDS.includes(argv[0]) && argv[0] !== 'init') {
    return new UsageError(`name a stage: ship ${argv[0]} <stage>`, { reason: 'missing-stage' });
  }
  const did = /Did you mean (\S+)\?/.exec(msg);
  if (did && argv[0] && !argv[0].startsWith('-')) return new UsageError(`unknown command '${argv[0]}'`, { hint: `did you mean \`ship ${did[1]}\`? (ship --help lists the commands)` });
  return new UsageError(msg.split('\n')[0], { hint: 'ship --help' });
}

const COMMANDS = ['deploy', 'rollback', 'releases', 'prune', 'unlock', 'switch', 'status', 'migrate', 'check', 'maintenance', 'exec', 'init', 'completion'];

/** Every long flag of every command, for "did you mean". */
const FLAGS = ['config', 'cwd', 'json', 'verbose', 'quiet', 'concurrency', 'color', 'no-color', 'help', 'version', 'lock-wait', 'dry-run', 'switch', 'no-switch', 'strategy', 'batch', 'canary', 'pause', 'hosts', 'roles', 'to', 'force', 'keep', 'contract', 'status', 'template', 'format'];

/** The nearest word by edit distance, if near enough to be a typo. */
export function closest(word: string, words: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const w of words) {
    const d = editDistance(word, w);
    if (d < bestD) [best, bestD] = [w, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** `stages: a, b` for a hint, read from the config of --cwd/--config when it loads. */
async function stagesHint(argv: string[]): Promise<string> {
  const names = await stageNames(argv);
  return names.length ? `stages: ${names.join(', ')}` : 'the stages are the keys of `stages` in the config';
}

/**
 * Loads the config (quietly) to learn its stage names, for hints and completion. For
 * completion (`noCode`), a JS/TS config is never run (a Tab press must not run project
 * code): its stage names are read from its text (staticStageNames), best effort.
 */
async function stageNames(argv: string[], noCode = false): Promise<string[]> {
  const flag = (name: string) => {
    const i = argv.findIndex((w) => w === `--${name}` || w.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
  };
  try {
    const { loadConfig } = await import('./config/load.js');
    return (await loadConfig({ cwd: flag('cwd'), configFile: flag('config'), noCode })).stageNames;
  } catch (e) {
    const file = (e as { codeConfig?: string }).codeConfig;
    if (!file) return [];
    const { staticStageNames } = await import('./config/load.js');
    return staticStageNames(file);
  }
}

/** The config's stages, read before yargs runs when the shell asks for completions. */
let completionStages: string[] = [];

const STAGE_COMMANDS = new Set(COMMANDS.filter((c) => c !== 'init' && c !== 'completion'));

/** Shell completion: commands and flags from yargs; after a command that takes one, the config's stage names. */
function completeWords(current: string, a: Record<string, unknown>, defaults: (cb: (err: Error | null, words: string[]) => void) => void, done: (words: string[]) => void): void {
  const words = ((a._ as unknown[]) ?? []).map(String).filter((w) => w !== 'ship' && w !== '--get-yargs-completions');
  const cmd = words[0];
  if (cmd && STAGE_COMMANDS.has(cmd) && words.length <= 2 && !current.startsWith('-')) {
    done(completionStages.filter((n) => n.startsWith(current)));
    return;
  }
  defaults((_err, list) => done(list));
}

/** --strategy/--batch/--canary as overrides of the stage's strategy (checked in loadStage). */
function strategyFlags(a: Common): CommandOptions['strategy'] {
  if (a.strategy === undefined && a.batch === undefined && a.canary === undefined) return undefined;
  return { type: a.strategy as StrategyType | undefined, batchSize: a.batch as number | undefined, canary: a.canary as number | undefined };
}

function splitList(v: unknown): string[] | undefined {
  if (typeof v !== 'string' || !v) return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** ship's own version, from its package.json (never the project's). */
export function shipVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The only place ship exits. */
export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv);
  process.exitCode = code;
  // Give stdout a moment to drain, then make sure no stray handle keeps us alive.
  setTimeout(() => process.exit(code), 200).unref();
}

export { ConfigError };

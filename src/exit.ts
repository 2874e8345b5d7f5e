import type { Ctx } from './context.js';
import { InternalError, ShipError, toShipError } from './errors.js';

/**
 * Every way a run can be told to stop takes the same road as Ctrl-C: the run is marked
 * interrupted, stops at the next safe point (between steps; a rollout batch in flight
 * finishes), and the usual clean-up follows — a switched batch reverted on failure,
 * `.partial` removed, `failed` hooks, unlock — before ship exits with its code.
 *
 * - SIGINT, SIGTERM, SIGHUP: the first one interrupts. A second one also aborts the
 *   commands running on the hosts right now (a long upload), then the clean-up runs.
 * - A closed stdout or stderr (EPIPE: `ship deploy prod | head`): output is dropped from
 *   then on and the run is interrupted. `ship unlock` finishes instead: its whole work
 *   is a clean-up.
 * - An uncaught error or unhandled rejection: interrupts and aborts like a second
 *   Ctrl-C; the run then fails with it as an internal error.
 */
export interface ExitGuard {
  /** The error a run ends with: a fatal stray error or an abort wins over what followed from it. */
  error(e: unknown): ShipError;
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const GONE = new Set(['EPIPE', 'EIO', 'ERR_STREAM_DESTROYED', 'ECONNRESET']);

/** What a lost stdout/stderr means for the run in progress (none: nothing). */
let onOutputLost: (() => void) | undefined;
let outputGuarded = false;

/**
 * Once per process: an error on stdout or stderr (the reader went away) is never fatal;
 * output written after it is dropped.
 */
export function guardOutput(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  const onError = (e: NodeJS.ErrnoException) => {
    if (GONE.has(e?.code ?? '')) onOutputLost?.();
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}
guardOutput();

export function guardExits(ctx: Ctx): ExitGuard {
  let signals = 0;
  let aborted = false;
  let fatal: ShipError | undefined;

  const abortRunning = () => {
    aborted = true;
    for (const h of ctx.hosts) {
      try {
        h.t.cancel();
      } catch {
        /* a transport that cannot cancel lets its command finish */
      }
    }
  };

  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1 && !ctx.interrupted) {
      ctx.interrupted = true;
      ctx.events.warn(`interrupted (${sig}): stopping after the current step and cleaning up; ${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again aborts the running commands`);
      return;
    }
    ctx.interrupted = true;
    if (!aborted) ctx.events.warn(`interrupted again (${sig}): aborting the running commands, then cleaning up`);
    abortRunning();
  };

  const onOutputError = () => {
    if (ctx.command !== 'unlock') ctx.interrupted = true;
  };

  const onFatal = (e: unknown) => {
    if (!fatal) fatal = e instanceof ShipError ? e : new InternalError(`uncaught: ${(e as Error)?.message ?? String(e)}`, e);
    ctx.interrupted = true;
    ctx.events.warn(`${fatal.message}: stopping and cleaning up`);
    abortRunning();
  };

  for (const s of SIGNALS) process.on(s, onSignal);
  guardOutput();
  onOutputLost = onOutputError;
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  return {
    error(e) {
      if (fatal) return fatal;
      const err = toShipError(e);
      if (aborted && err.reason !== 'interrupted' && err.exitCode === 1) {
        return new ShipError('interrupted: the running commands were aborted', { reason: 'interrupted', host: err.host, cause: err });
      }
      return err;
    },
    dispose() {
      for (const s of SIGNALS) process.off(s, onSignal);
      process.off('uncaughtException', onFatal);
      process.off('unhandledRejection', onFatal);
      if (onOutputLost === onOutputError) onOutputLost = undefined;
    },
  };
}

import { InternalError, ShipError } from './errors.js';
import type { Events } from './events.js';
import type { StopSignals } from './exit.js';

/**
 * The CLI's side of stopping a run (the library only reads AbortSignals, src/exit.ts):
 *
 * - SIGINT, SIGTERM, SIGHUP: the first one interrupts (the run stops at the next safe
 *   point and cleans up). A second one also aborts the commands running on the hosts.
 * - A closed stdout or stderr (EPIPE: `ship deploy prod | head`): output is dropped from
 *   then on and the run is interrupted. `ship unlock` finishes instead: its whole work is
 *   a clean-up.
 * - An uncaught error or unhandled rejection: interrupts and aborts like a second Ctrl-C;
 *   the run then fails with it as an internal error.
 */
export interface ProcessGuard extends Required<StopSignals> {
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const GONE = new Set(['EPIPE', 'EIO', 'ERR_STREAM_DESTROYED', 'ECONNRESET']);

let onOutputLost: (() => void) | undefined;
let outputGuarded = false;

/** Once per process: an error on stdout or stderr (the reader went away) is never fatal. */
function guardOutput(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  const onError = (e: NodeJS.ErrnoException) => {
    if (GONE.has(e?.code ?? '')) onOutputLost?.();
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}

export function guardProcess(events: Events, command: string): ProcessGuard {
  const stop = new AbortController();
  const cancel = new AbortController();
  let signals = 0;

  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1 && !stop.signal.aborted) {
      events.warn(`interrupted (${sig}): stopping after the current step and cleaning up; ${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again aborts the running commands`);
      stop.abort();
      return;
    }
    stop.abort();
    if (!cancel.signal.aborted) events.warn(`interrupted again (${sig}): aborting the running commands, then cleaning up`);
    cancel.abort();
  };
  const onOutputError = () => {
    if (command !== 'unlock') stop.abort();
  };
  const onFatal = (e: unknown) => {
    const fatal = e instanceof ShipError ? e : new InternalError(`uncaught: ${(e as Error)?.message ?? String(e)}`, e);
    events.warn(`${fatal.message}: stopping and cleaning up`);
    stop.abort();
    if (!cancel.signal.aborted) cancel.abort(fatal);
  };

  for (const s of SIGNALS) process.on(s, onSignal);
  guardOutput();
  onOutputLost = onOutputError;
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  return {
    signal: stop.signal,
    cancel: cancel.signal,
    dispose() {
      for (const s of SIGNALS) process.off(s, onSignal);
      process.off('uncaughtException', onFatal);
      process.off('unhandledRejection', onFatal);
      if (onOutputLost === onOutputError) onOutputLost = undefined;
    },
  };
}

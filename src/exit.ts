import type { Ctx } from './context.js';
import { isFailure, ShipError, toShipError } from './errors.js';

/**
 * How a caller stops a run, without ship touching the process: two AbortSignals.
 *
 * - `signal`: stop at the next safe point (between steps; a rollout batch in flight
 *   finishes), then the usual clean-up — a switched batch reverted on failure,
 *   `.partial` removed, `failed` hooks, unlock. The CLI aborts it on the first Ctrl-C,
 *   SIGTERM or SIGHUP, and when stdout or stderr goes away.
 * - `cancel`: also kill the commands running on the hosts now (a long upload); the
 *   clean-up still follows. The CLI aborts it on a second signal, or with the error of
 *   an uncaught exception (a ShipError reason is the error the run then ends with).
 *
 * The CLI's side (process signals, EPIPE, uncaught errors) is src/process-guard.ts.
 */
export interface StopSignals {
  signal?: AbortSignal;
  cancel?: AbortSignal;
}

export interface RunWatch {
  /** The error a run ends with: a fatal error or a cancel wins over what followed from it. */
  error(e: unknown): ShipError;
  dispose(): void;
}

export function watchRun(ctx: Ctx, s: StopSignals): RunWatch {
  let cancelled = false;
  let fatal: ShipError | undefined;
  const interrupt = () => {
    ctx.interrupted = true;
  };
  const cancel = () => {
    ctx.interrupted = true;
    cancelled = true;
    if (s.cancel?.reason instanceof ShipError) fatal = s.cancel.reason;
    for (const h of ctx.hosts) {
      try {
        h.t.cancel();
      } catch {
        /* a transport that cannot cancel lets its command finish */
      }
    }
  };
  if (s.signal?.aborted) interrupt();
  else s.signal?.addEventListener('abort', interrupt);
  if (s.cancel?.aborted) cancel();
  else s.cancel?.addEventListener('abort', cancel);
  return {
    error(e) {
      if (fatal) return fatal;
      const err = toShipError(e);
      if (cancelled && err.reason !== 'interrupted' && isFailure(err)) {
        return new ShipError('interrupted: the running commands were aborted', { reason: 'interrupted', host: err.host, cause: err });
      }
      return err;
    },
    dispose() {
      s.signal?.removeEventListener('abort', interrupt);
      s.cancel?.removeEventListener('abort', cancel);
    },
  };
}

import type { ExitCode, ShipError } from './errors.js';
import type { Plan } from './runner.js';
import { Secrets } from './redact.js';
/** What steps say; reporters decide how it looks (src/reporters/). */
export type StepStatus = 'start' | 'done' | 'failed' | 'skipped';

export type ShipEvent =
  | ({ type: 'plan' } & Plan)
  | { type: 'step'; step: string; status: StepStatus; host?: string; ms?: number; message?: string; batch?: number }
  | { type: 'switch'; host: string; release: string; previous?: string }
  | { type: 'health'; host: string; ok: boolean; status?: number; attempt: number; message?: string }
  | { type: 'hook'; hook: string; command: string; host?: string }
  | {
      /** One batch of a backfill migration finished (state done: nothing left). */
      type: 'backfill';
      host: string;
      id: string;
      file: string;
      state: 'running' | 'done';
      batch: number;
      rows: number;
      totalRows: number;
      last?: string;
      remaining?: number;
      /** This batch, and every batch of this backfill so far, in ms. */
      ms: number;
      elapsed: number;
      /** Rows per second in this run, and the time left at that rate (ms). */
      rate?: number;
      eta?: number;
    }
  | { type: 'route'; host: string; weights: Record<string, number>; releases: Record<string, string | undefined> }
  | {
      type: 'canary';
      step: number;
      percent: number;
      status: 'start' | 'passed' | 'failed' | 'waiting' | 'paused';
      release: string;
      figures?: Record<string, { requests: number; errors: number; errorRate: number; p95: number | null; pinned?: number }>;
      gate?: string;
      message?: string;
    }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string; host?: string }
  /** A remote command ship ran (or a change to a host's files), with --verbose (transport/trace.ts); secrets redacted. */
  | { type: 'command'; host: string; kind: 'exec' | 'file'; command: string; code: number | null; ms: number; stdout: string; stderr: string }
  | { type: 'error'; code: number; reason: string; message: string; host?: string; hint?: string }
  | {
      type: 'summary';
      command: string;
      stage: string;
      release?: string;
      exitCode: number;
      hosts: string[];
      ms: number;
      steps: Record<string, number>;
      bytesSent: number;
      pruned: Record<string, string[]>;
      message?: string;
      /** --dry-run: nothing was written; `release` is the id the run would have made. */
      dryRun?: boolean;
    };

export type Stamped = ShipEvent & { time: string };

/** How a command ended, for `Events.outcome`: the summary's fields, the error if any. */
export interface Outcome {
  command: string;
  stage: string;
  error?: ShipError;
  release?: string;
  hosts?: string[];
  ms?: number;
  steps?: Record<string, number>;
  bytesSent?: number;
  pruned?: Record<string, string[]>;
  message?: string;
  dryRun?: boolean;
}
type Listener = (e: Stamped) => void;

export class Events {
  private listeners: Listener[] = [];
  /** The run's secret values: every event is scrubbed with them before any listener sees it (src/redact.ts). */
  readonly secrets = new Secrets();
  on(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }
  emit(e: ShipEvent): void {
    const stamped = { ...this.secrets.scrub(e), time: new Date().toISOString() } as Stamped;
    for (const l of this.listeners) l(stamped);
  }
  log(message: string, host?: string): void {
    this.emit({ type: 'log', level: 'info', message, host });
  }
  warn(message: string, host?: string): void {
    this.emit({ type: 'log', level: 'warn', message, host });
  }
  debug(message: string, host?: string): void {
    this.emit({ type: 'log', level: 'debug', message, host });
  }
  /**
   * The end of every command, whatever ran it: the `error` event when it failed, then the
   * `summary`. This is the one place both are built. Returns the exit code.
   */
  outcome(o: Outcome): ExitCode {
    const e = o.error;
    const exitCode: ExitCode = e ? e.exitCode : 0;
    if (e) this.emit({ type: 'error', code: exitCode, reason: e.reason, message: e.message, host: e.host, hint: e.hint });
    this.emit({
      type: 'summary',
      command: o.command,
      stage: o.stage,
      release: o.release,
      exitCode,
      hosts: o.hosts ?? [],
      ms: o.ms ?? 0,
      steps: o.steps ?? {},
      bytesSent: o.bytesSent ?? 0,
      pruned: o.pruned ?? {},
      message: o.message,
      ...(o.dryRun ? { dryRun: true } : {}),
    });
    return exitCode;
  }
}

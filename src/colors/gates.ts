/**
 * The canary's judgement, pure: access-log lines in, figures per color and a verdict out.
 *
 * Log lines end with `$upstream_addr $status $request_time` (the nginx-bluegreen template's
 * `ship_colors` format puts `$time_iso8601` in front). `$upstream_addr` may list several
 * addresses (`127.0.0.1:3001, 127.0.0.1:3002` after nginx tried the next server): the
 * last one answered. Lines whose upstream is neither color (static files, `-`) are not
 * counted.
 */
import type { Gates } from '../config/types.js';

export type Color = 'blue' | 'green';

export interface LogEntry {
  /** host:port of the upstream that answered. */
  upstream: string;
  status: number;
  /** Seconds ($request_time). */
  time: number;
}

const LINE = /(\S+(?:, \S+)*) (\d{3}) (\d+(?:\.\d+)?)(?: \S+)?\s*$/; // an optional last field: $cookie_ship_route

/** One access-log line, or undefined when it does not end in the three fields. */
export function parseLine(line: string): LogEntry | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const addrs = m[1].split(/\s*[,:]\s+/).filter(Boolean);
  const upstream = addrs.at(-1) ?? m[1];
  if (upstream === '-') return undefined;
  return { upstream, status: Number(m[2]), time: Number(m[3]) };
}

export interface Figures {
  requests: number;
  errors: number;
  /** Percent of answers that were 5xx. */
  errorRate: number;
  /** Seconds; NaN with no requests. */
  p95: number;
}

/** The q-quantile (nearest rank) of the values; NaN when there are none. */
export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

export function figures(entries: LogEntry[]): Figures {
  const errors = entries.filter((e) => e.status >= 500).length;
  return {
    requests: entries.length,
    errors,
    errorRate: entries.length ? (100 * errors) / entries.length : 0,
    p95: quantile(entries.map((e) => e.time), 0.95),
  };
}

/** Splits log text into figures per color, by the port each color listens on. */
export function colorFigures(text: string, ports: Record<Color, number>): Record<Color, Figures> {
  const by: Record<Color, LogEntry[]> = { blue: [], green: [] };
  for (const line of text.split('\n')) {
    const e = parseLine(line);
    if (!e) continue;
    const port = Number(/:(\d+)$/.exec(e.upstream)?.[1]);
    if (port === ports.blue) by.blue.push(e);
    else if (port === ports.green) by.green.push(e);
  }
  return { blue: figures(by.blue), green: figures(by.green) };
}

/** nginx logs $request_time in milliseconds: p95s closer than this are the same. */
export const P95_SLACK_S = 0.01;

export type Verdict =
  | { ok: true }
  /** Not enough requests reached the new color yet: wait longer. */
  | { ok: false; wait: true; gate: 'minRequests'; message: string }
  | { ok: false; wait?: false; gate: 'errorRate' | 'p95' | 'minRequests'; message: string };

const pct = (x: number) => `${Number(x.toFixed(2))} %`;
const secs = (x: number) => (Number.isNaN(x) ? 'n/a' : `${Number(x.toFixed(3))} s`);

/** One line with both colors' figures, for messages and logs. */
export function describe(fresh: Figures, old: Figures, names: { fresh: string; old: string }): string {
  const one = (n: string, f: Figures) => `${n}: ${f.requests} requests, ${f.errors} 5xx (${pct(f.errorRate)}), p95 ${secs(f.p95)}`;
  return `${one(names.fresh, fresh)}; ${one(names.old, old)}`;
}

/**
 * Judges the new color against the old one over one window. `final`: no more waiting
 * (too few requests then fails the minRequests gate). Error rate: the new color's 5xx
 * share may exceed the old one's by `gates.errorRate` percentage points. p95: the new
 * color's may be `gates.p95` times the old one's (or within 10 ms of it).
 */
export function judge(fresh: Figures, old: Figures, gates: Gates, final: boolean, names = { fresh: 'new', old: 'old' }): Verdict {
  const both = describe(fresh, old, names);
  if (fresh.requests < gates.minRequests) {
    const message = `minRequests: ${fresh.requests} requests reached ${names.fresh}, fewer than ${gates.minRequests} (${both})`;
    return final ? { ok: false, gate: 'minRequests', message } : { ok: false, wait: true, gate: 'minRequests', message };
  }
  if (fresh.errorRate > old.errorRate + gates.errorRate) {
    return { ok: false, gate: 'errorRate', message: `errorRate: ${names.fresh} answered ${pct(fresh.errorRate)} 5xx, ${names.old} ${pct(old.errorRate)} (allowed: +${gates.errorRate} points) — ${both}` };
  }
  if (old.requests && !Number.isNaN(old.p95) && fresh.p95 > old.p95 * gates.p95 && fresh.p95 - old.p95 > P95_SLACK_S) {
    return { ok: false, gate: 'p95', message: `p95: ${names.fresh} ${secs(fresh.p95)}, ${names.old} ${secs(old.p95)} (allowed: ×${gates.p95}) — ${both}` };
  }
  return { ok: true };
}

/** Weights for a step: `percent` to the new color, the rest to the old. */
export function weightsFor(fresh: Color, percent: number): Record<Color, number> {
  const old: Color = fresh === 'blue' ? 'green' : 'blue';
  return { [fresh]: percent, [old]: 100 - percent } as Record<Color, number>;
}

export function otherColor(c: Color): Color {
  return c === 'blue' ? 'green' : 'blue';
}

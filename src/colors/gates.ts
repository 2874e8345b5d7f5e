/**
 * The canary's judgement, pure: access-log lines in, figures per color and a verdict out.
 * See docs/blue-green.md, "The weighted canary and how the gates read".
 *
 * A log line is `$time_iso8601 $upstream_addr $status $request_time $cookie_ship_route`
 * (the nginx-bluegreen template's `<app>_colors` format); lines of the older format,
 * without the cookie, still parse. `$upstream_addr` may list several addresses
 * (`127.0.0.1:3001, 127.0.0.1:3002` after nginx tried the next server): the last one
 * answered. Lines whose upstream is neither color (static files, `-`) are not counted,
 * and neither are requests that carried a `ship_route` cookie (a pin): any client can
 * set that cookie, so a pinned client must not be able to fail or pass a canary.
 *
 * Lines are folded one at a time into a Tally per color (counters and a fixed-size
 * histogram of request times), so a window of any length takes the same memory.
 */
import type { Gates } from '../config/types.js';

export type Color = 'blue' | 'green';

export interface LogEntry {
  /** host:port of the upstream that answered. */
  upstream: string;
  status: number;
  /** Seconds ($request_time). */
  time: number;
  /** The ship_route cookie the request carried (absent when it carried none: nginx logs `-`). */
  pin?: string;
}

/** time, upstream(s), status, request time, then (newer format) the cookie: the rest of the line. */
const LINE = /^\S+ (\S+(?:(?:, | : )\S+)*) (\d{3}) (\d+(?:\.\d+)?)(?: (.*?))?\s*$/;

/** One access-log line, or undefined when it is not of the format above. */
export function parseLine(line: string): LogEntry | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const addrs = m[1].split(/\s*[,:]\s+/).filter(Boolean);
  const upstream = addrs.at(-1) ?? m[1];
  if (upstream === '-') return undefined;
  const e: LogEntry = { upstream, status: Number(m[2]), time: Number(m[3]) };
  if (m[4] !== undefined && m[4] !== '' && m[4] !== '-') e.pin = m[4];
  return e;
}

export interface Figures {
  requests: number;
  errors: number;
  /** Percent of answers that were 5xx. */
  errorRate: number;
  /** Seconds; NaN with no requests. */
  p95: number;
  /** Requests to this color left out because they carried a ship_route cookie. */
  pinned?: number;
}

/** The q-quantile (nearest rank) of the values; NaN when there are none. */
export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

/** Request times below this many milliseconds have a bucket each (nginx logs milliseconds). */
const EXACT_MS = 1000;
/** Above EXACT_MS, bucket bounds grow by this factor: a quantile is within 0.1 % of the true value. */
const GROWTH = 1.002;
/** The last bucket holds everything from about one hour up. */
const LOG_BUCKETS = Math.ceil(Math.log(3600) / Math.log(GROWTH));

/**
 * A bounded quantile sketch of request times: a fixed histogram (about 5,100 buckets,
 * 41 KB) however many values it is given. Exact to the millisecond below one second,
 * log-spaced above it (each bucket 0.2 % wide, a quantile within 0.1 %).
 */
export class TimeSketch {
  readonly counts = new Float64Array(EXACT_MS + LOG_BUCKETS + 1);
  n = 0;

  add(seconds: number): void {
    this.counts[bucketOf(seconds)]++;
    this.n++;
  }

  merge(other: TimeSketch): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.n += other.n;
  }

  /** The q-quantile (nearest rank) in seconds; NaN when empty. */
  quantile(q: number): number {
    if (!this.n) return NaN;
    const rank = Math.min(this.n, Math.max(1, Math.ceil(q * this.n)));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(this.counts.length - 1);
  }
}

function bucketOf(seconds: number): number {
  const ms = Math.max(0, Math.round(seconds * 1000));
  if (ms < EXACT_MS) return ms;
  const i = Math.floor(Math.log(ms / EXACT_MS) / Math.log(GROWTH));
  return EXACT_MS + Math.min(LOG_BUCKETS, i);
}

/** A bucket's value in seconds: its millisecond, or the geometric middle of its bounds. */
function valueOf(i: number): number {
  if (i < EXACT_MS) return i / 1000;
  const k = i - EXACT_MS;
  return (EXACT_MS * GROWTH ** (k + 0.5)) / 1000;
}

/** Counters and request times of one color over a window (pinned requests counted apart). */
export class Tally {
  requests = 0;
  errors = 0;
  pinned = 0;
  readonly times = new TimeSketch();

  add(e: LogEntry): void {
    if (e.pin !== undefined) {
      this.pinned++;
      return;
    }
    this.requests++;
    if (e.status >= 500) this.errors++;
    this.times.add(e.time);
  }

  merge(other: Tally): this {
    this.requests += other.requests;
    this.errors += other.errors;
    this.pinned += other.pinned;
    this.times.merge(other.times);
    return this;
  }

  figures(): Figures {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests ? (100 * this.errors) / this.requests : 0,
      p95: this.times.quantile(0.95),
      pinned: this.pinned,
    };
  }
}

export function figures(entries: LogEntry[]): Figures {
  const t = new Tally();
  for (const e of entries) t.add(e);
  return t.figures();
}

export function newTallies(): Record<Color, Tally> {
  return { blue: new Tally(), green: new Tally() };
}

/** Folds one log line into the tally of the color (by port) that answered it; other lines are skipped. */
export function foldLine(line: string, ports: Record<Color, number>, into: Record<Color, Tally>): void {
  const e = parseLine(line);
  if (!e) return;
  const port = Number(/:(\d+)$/.exec(e.upstream)?.[1]);
  if (port === ports.blue) into.blue.add(e);
  else if (port === ports.green) into.green.add(e);
}

/** Splits log text into figures per color, by the port each color listens on. */
export function colorFigures(text: string, ports: Record<Color, number>): Record<Color, Figures> {
  const t = newTallies();
  for (const line of text.split('\n')) foldLine(line, ports, t);
  return { blue: t.blue.figures(), green: t.green.figures() };
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
  const one = (n: string, f: Figures) =>
    `${n}: ${f.requests} requests, ${f.errors} 5xx (${pct(f.errorRate)}), p95 ${secs(f.p95)}${f.pinned ? ` (${f.pinned} pinned by cookie, not counted)` : ''}`;
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

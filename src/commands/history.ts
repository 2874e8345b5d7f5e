import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import type { Printer } from '../reporters/rows.js';
import { UsageError } from '../errors.js';
import type { HistoryEntry } from '../releases.js';
import { fmtMs } from '../reporters/format.js';
import { connect } from '../steps/connect.js';
import type { Step } from '../steps/types.js';

/** One event of `ship history`: a run (or, for lines written before runs were recorded, one action) across hosts. */
export interface HistoryEvent {
  /** When it started (ISO 8601 UTC). */
  time: string;
  user?: string;
  action: string;
  release?: string;
  previous?: string;
  revision?: string;
  durationMs?: number;
  outcome?: string;
  exitCode?: number;
  message?: string;
  /** The hosts it touched, by name. */
  hosts: string[];
  /** Only where the hosts differ: the field's value on each host. */
  differs?: Record<string, Record<string, string | number | undefined>>;
  run?: string;
  /** Migrations the run applied (`expand 0001_users.sql`), on the migration host. */
  migrations?: string[];
}

type Line = HistoryEntry & { host: string };

const FIELDS = ['user', 'release', 'previous', 'revision', 'outcome', 'exitCode'] as const;

/**
 * Merges the history lines of several hosts into events, newest first. Lines of one run
 * (same `run` id) are one event; the line that ends a run gives its command, outcome and
 * duration. Lines without a run id (older ship) are merged across hosts when action,
 * release, previous and user agree within two minutes.
 */
export function mergeHistory(byHost: { host: string; history: HistoryEntry[] }[]): HistoryEvent[] {
  const lines: Line[] = byHost.flatMap((h) => h.history.map((e) => ({ ...e, host: h.host })));
  const groups = new Map<string, Line[]>();
  const legacy: Line[][] = [];
  for (const l of lines) {
    if (l.run) {
      const g = groups.get(l.run) ?? [];
      g.push(l);
      groups.set(l.run, g);
      continue;
    }
    const t = Date.parse(l.time);
    const g = legacy.find(
      (x) =>
        x[0].action === l.action &&
        x[0].release === l.release &&
        x[0].previous === l.previous &&
        x[0].user === l.user &&
        !x.some((y) => y.host === l.host) &&
        Math.abs(Date.parse(x[0].time) - t) < 120_000,
    );
    if (g) g.push(l);
    else legacy.push([l]);
  }
  const events = [...[...groups.values()].map(runEvent), ...legacy.map(legacyEvent)];
  return events.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

function runEvent(lines: Line[]): HistoryEvent {
  const hosts = [...new Set(lines.map((l) => l.host))].sort();
  const ends = lines.filter((l) => l.outcome);
  // Migration lines come from the migration host; they name the run's migrations, not its releases.
  const steps = lines.filter((l) => !(l.action === 'migrate' && !l.outcome));
  const started = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)-/.exec(lines[0].run!)?.[1] ?? lines.map((l) => l.time).sort()[0];
  // Per host: the end line, or what its step lines say (a run that was killed writes no end line).
  const perHost = new Map<string, Partial<Record<(typeof FIELDS)[number], string | number>>>();
  for (const host of hosts) {
    const mine = steps.filter((l) => l.host === host);
    if (!mine.length) continue;
    const end = mine.find((l) => l.outcome);
    const publish = mine.find((l) => l.action === 'publish');
    const flip = mine.find((l) => l.action === 'switch' || (l.action === 'rollback' && !l.outcome && l.release));
    const failure = mine.find((l) => l.action === 'failure');
    perHost.set(host, {
      user: end?.user ?? mine[0].user,
      release: end?.release ?? flip?.release ?? publish?.release ?? failure?.release,
      previous: end?.previous ?? flip?.previous,
      revision: end?.revision ?? publish?.revision,
      outcome: end?.outcome ?? (failure ? 'failed' : 'unfinished'),
      exitCode: end?.exitCode,
    });
  }
  const action = ends[0]?.action ?? (lines.some((l) => l.action === 'publish') ? 'deploy' : lines[0].action);
  const ev: HistoryEvent = { time: started, action, hosts, run: lines[0].run };
  mergeFields(ev, perHost);
  const durations = ends.map((l) => l.durationMs ?? 0);
  if (durations.length) ev.durationMs = Math.max(...durations);
  const msg = ends.find((l) => l.message && l.outcome !== 'ok')?.message ?? lines.find((l) => l.action === 'failure')?.message;
  if (msg) ev.message = msg.split('\n')[0];
  const migrations = lines.filter((l) => l.action === 'migrate' && !l.outcome && l.message).map((l) => l.message!);
  if (migrations.length) ev.migrations = migrations;
  return ev;
}

function legacyEvent(lines: Line[]): HistoryEvent {
  const hosts = [...new Set(lines.map((l) => l.host))].sort();
  const first = lines[0];
  const ev: HistoryEvent = { time: lines.map((l) => l.time).sort()[0], action: first.action, hosts };
  const perHost = new Map(lines.map((l) => [l.host, { user: l.user, release: l.release, previous: l.previous, revision: l.revision }]));
  mergeFields(ev, perHost);
  if (first.message) ev.message = first.message.split('\n')[0];
  if (first.removed?.length) ev.message = `removed ${first.removed.join(' ')}`;
  return ev;
}

/** Sets each field that all hosts agree on; the others go to `differs` (host -> value). */
function mergeFields(ev: HistoryEvent, perHost: Map<string, Partial<Record<string, string | number | undefined>>>): void {
  for (const f of FIELDS) {
    const values = [...perHost.values()].map((v) => v[f]);
    const distinct = new Set(values.map((v) => (v === undefined ? '' : String(v))));
    if (distinct.size <= 1) {
      const v = values.find((x) => x !== undefined);
      if (v !== undefined) (ev as unknown as Record<string, unknown>)[f] = v;
    } else {
      ev.differs ??= {};
      ev.differs[f] = Object.fromEntries([...perHost].map(([h, v]) => [h, v[f]]));
    }
  }
}

/** `2026-11-30 05:40:12 UTC (3 min ago)` */
export function humanTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const abs = new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const s = Math.max(0, Math.round((now - t) / 1000));
  const rel = s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86_400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86_400)} days ago`;
  return `${abs} (${rel})`;
}

/** A field as text: the value, or `value (hosts); other (hosts)` where the hosts differ. */
function field(ev: HistoryEvent, f: (typeof FIELDS)[number], short = (v: string) => v): string {
  const d = ev.differs?.[f];
  if (!d) {
    const v = ev[f];
    return v === undefined ? '-' : short(String(v));
  }
  const by = new Map<string, string[]>();
  for (const [h, v] of Object.entries(d)) {
    const k = v === undefined ? '-' : short(String(v));
    by.set(k, [...(by.get(k) ?? []), h]);
  }
  return [...by].map(([v, hs]) => `${v} (${hs.join(', ')})`).join('; ');
}

export function historyTable(events: HistoryEvent[], allHosts: string[], now = Date.now()): string {
  if (!events.length) return 'no history yet';
  const rows = events.map((e) => {
    const outcome = field(e, 'outcome') + (e.exitCode !== undefined && !e.differs?.exitCode ? ` (exit ${e.exitCode})` : '');
    const hosts = e.hosts.length === allHosts.length && e.hosts.every((h) => allHosts.includes(h)) ? `all (${e.hosts.length})` : e.hosts.join(', ');
    return {
      cells: [humanTime(e.time, now), field(e, 'user'), e.action, field(e, 'release'), field(e, 'previous'), field(e, 'revision', (v) => v.slice(0, 12)), e.durationMs !== undefined ? fmtMs(e.durationMs) : '-', outcome, hosts],
      message: [e.message, e.migrations && `migrations: ${e.migrations.join(', ')}`].filter(Boolean).join('\n    '),
    };
  });
  const head = ['TIME', 'USER', 'ACTION', 'RELEASE', 'PREVIOUS', 'REVISION', 'DURATION', 'OUTCOME', 'HOSTS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const out = [line(head)];
  for (const r of rows) {
    out.push(line(r.cells));
    if (r.message) out.push(`    ${r.message}`);
  }
  return out.join('\n');
}

/** `ship history <stage> [--limit N]`: who did what, when, across the stage's hosts, newest first. */
export async function history(o: CommandOptions, limit: number | undefined, print: Printer): Promise<CommandResult> {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit takes a whole number of at least 1');
  const step: Step = {
    name: 'history',
    description: 'read .ship/history.jsonl on every host',
    async run(ctx, hosts) {
      const events = mergeHistory(hosts.map((h) => ({ host: h.name, history: h.history })));
      const shown = limit ? events.slice(0, limit) : events;
      print(
        shown.map(({ run: _run, ...e }) => e),
        historyTable(shown, hosts.map((h) => h.name)),
      );
    },
  };
  return runCommand('history', o, [connect, step]);
}

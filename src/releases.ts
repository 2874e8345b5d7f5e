/**
 * Release records and the decisions made from them: states, the rollback target,
 * what pruning removes. Pure functions over history lines and directory names.
 */
import { UsageError } from './errors.js';

export type ReleaseState = 'staged' | 'active' | 'superseded' | 'rolled-back' | 'failed' | 'unknown';

export interface HistoryEntry {
  time: string;
  /**
   * publish, switch, rollback, failure, prune: one step of a run on this host. The line
   * that ends a run carries `outcome` and names the command: deploy, switch, rollback,
   * prune, migrate, setup.
   */
  action: 'publish' | 'switch' | 'rollback' | 'failure' | 'prune' | 'migrate' | 'deploy' | 'setup';
  release?: string;
  previous?: string;
  /** State changes this entry makes, by release id. */
  states?: Record<string, ReleaseState>;
  revision?: string;
  dirty?: boolean;
  user?: string;
  message?: string;
  removed?: string[];
  /** The run that wrote the line (every line of one command run shares it). */
  run?: string;
  /** On the line that ends a run: how long the run took, and how it ended. */
  durationMs?: number;
  outcome?: 'ok' | 'failed' | 'staged' | 'paused' | 'interrupted';
  exitCode?: number;
}

export interface ReleaseInfo {
  id: string;
  state: ReleaseState;
  current: boolean;
  revision?: string;
  createdAt?: string;
}

export const GOOD: ReadonlySet<ReleaseState> = new Set(['active', 'superseded', 'staged']);

/**
 * States a release may be made live from, by any command: ones ship published and that
 * did not fail. An `unknown` directory (not ship's, or its history lost) never goes live.
 */
export const SWITCHABLE: ReadonlySet<ReleaseState> = new Set(['staged', 'active', 'superseded', 'rolled-back']);

export function parseHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as HistoryEntry);
    } catch {
      /* a torn last line (a killed run) is skipped */
    }
  }
  return out;
}

/** Every release directory with its state; `current` always reads as active. */
/** A host's releases with their states, derived from what the run knows of it (never stored). */
export function hostReleases(h: { history: HistoryEntry[]; dirs: string[]; currentId?: string }): ReleaseInfo[] {
  return releaseInfos(h.history, h.dirs, h.currentId);
}

export function releaseInfos(history: HistoryEntry[], dirs: string[], currentId?: string): ReleaseInfo[] {
  const state = new Map<string, ReleaseState>();
  const created = new Map<string, string>();
  const revision = new Map<string, string>();
  for (const h of history) {
    for (const [id, s] of Object.entries(h.states ?? {})) state.set(id, s);
    if (h.action === 'publish' && h.release) {
      created.set(h.release, h.time);
      if (h.revision) revision.set(h.release, h.revision);
    }
  }
  return dirs
    .filter((d) => !d.endsWith('.partial') && !d.startsWith('.'))
    .sort()
    .map((id) => {
      let s = state.get(id) ?? 'unknown';
      if (id === currentId) s = 'active';
      else if (s === 'active') s = 'superseded'; // history lost the flip away from it
      return { id, state: s, current: id === currentId, revision: revision.get(id), createdAt: created.get(id) };
    });
}

/** The newest good release older than `currentId`: where a plain rollback goes. */
export function previousGood(infos: ReleaseInfo[], currentId: string | undefined): ReleaseInfo | undefined {
  if (!currentId) return undefined;
  return infos.filter((r) => r.id < currentId && GOOD.has(r.state)).sort((a, b) => (a.id < b.id ? 1 : -1))[0];
}

/** The state the release being left takes when `toId` goes live. */
export function leavingState(fromId: string, toId: string): ReleaseState {
  return toId < fromId ? 'rolled-back' : 'superseded';
}

export interface PruneGuard {
  keep: number;
  current?: string;
  next?: string;
  /** Releases a held lock names (a run in progress). */
  locked?: Iterable<string>;
}

/**
 * Which releases to remove: keep the `keep` newest good ones by id, the current one,
 * the one `next` points at, the rollback target, anything locked, every unknown
 * directory, and the newest of the failed/rolled-back ones.
 */
export function selectPrune(infos: ReleaseInfo[], g: PruneGuard): string[] {
  const protect = new Set<string>([...(g.locked ?? [])]);
  if (g.current) protect.add(g.current);
  if (g.next) protect.add(g.next);
  const prev = previousGood(infos, g.current);
  if (prev) protect.add(prev.id);
  const byNewest = [...infos].sort((a, b) => (a.id < b.id ? 1 : -1));
  byNewest.filter((r) => GOOD.has(r.state)).slice(0, g.keep).forEach((r) => protect.add(r.id));
  const bad = byNewest.find((r) => r.state === 'failed' || r.state === 'rolled-back');
  if (bad) protect.add(bad.id);
  return byNewest.filter((r) => r.state !== 'unknown' && !protect.has(r.id)).map((r) => r.id).sort();
}

/**
 * A release named on the command line (`ship rollback --to`, `ship switch <id>`) must be
 * on every host and one ship published that did not fail; else a usage error naming the
 * first host where it is not.
 */
export function checkNamedRelease(hosts: { name: string; history: HistoryEntry[]; dirs: string[]; currentId?: string }[], id: string, stage: string): void {
  for (const h of hosts) {
    const info = hostReleases(h).find((r) => r.id === id);
    if (!info) throw new UsageError(`${h.name}: no release ${id}`, { host: h.name, hint: `see: ship releases ${stage}` });
    if (info.state === 'failed') throw new UsageError(`${h.name}: release ${id} failed its deploy and cannot be made live`, { host: h.name, hint: 'deploy a fixed build instead' });
    if (!SWITCHABLE.has(info.state)) {
      throw new UsageError(`${h.name}: ${id} is not a release ship published (state ${info.state}): it is never made live`, {
        host: h.name,
        hint: `name a release listed by: ship releases ${stage}`,
      });
    }
  }
}

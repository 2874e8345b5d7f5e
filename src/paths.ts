import path from 'node:path/posix';

/** True when relative path `p` is `root` or lies under it (a trailing slash on root is ignored). */
export function atOrUnder(p: string, root: string): boolean {
  const r = root.replace(/\/+$/, '');
  return p === r || p.startsWith(`${r}/`);
}

/** Where things live under deployTo (docs/architecture.md, The layout on a server). Pure. */
export class Paths {
  constructor(readonly root: string) {}
  get current(): string {
    return path.join(this.root, 'current');
  }
  get next(): string {
    return path.join(this.root, 'next');
  }
  get releases(): string {
    return path.join(this.root, 'releases');
  }
  get shared(): string {
    return path.join(this.root, 'shared');
  }
  get meta(): string {
    return path.join(this.root, '.ship');
  }
  get lock(): string {
    return path.join(this.meta, 'lock');
  }
  get history(): string {
    return path.join(this.meta, 'history.jsonl');
  }
  get manifests(): string {
    return path.join(this.meta, 'manifests');
  }
  get ledger(): string {
    return path.join(this.meta, 'migrations.jsonl');
  }
  release(id: string): string {
    return path.join(this.releases, id);
  }
  partial(id: string): string {
    return path.join(this.releases, `${id}.partial`);
  }
  manifest(id: string): string {
    return path.join(this.manifests, `${id}.json`);
  }
  /** The symlink text for `current`/`next`: relative, so the tree can move. */
  linkTarget(id: string): string {
    return `releases/${id}`;
  }
  /** A release id from what `current`/`next` holds, or undefined. */
  idFromLink(target: string | null): string | undefined {
    if (!target) return undefined;
    const m = /(?:^|\/)releases\/([^/]+)\/?$/.exec(target);
    return m?.[1];
  }
  /** Relative symlink text from `<release>/<rel>` to `shared/<rel>`. */
  sharedLinkTarget(rel: string): string {
    rel = path.normalize(rel).replace(/\/+$/, '');
    const depth = rel.split('/').length - 1;
    return `${'../'.repeat(depth + 2)}shared/${rel}`;
  }
}

export const RELEASE_ID = /^[0-9A-Za-z][0-9A-Za-z._-]*$/;

export function isReleaseId(s: string): boolean {
  return RELEASE_ID.test(s) && !s.endsWith('.partial') && s.length <= 128;
}

/** UTC YYYYMMDDHHMMSS. */
export function timestampId(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The id for a new release: now, or the next free second after a collision. */
export function nextReleaseId(now: Date, taken: Iterable<string>): string {
  const used = new Set(taken);
  let t = new Date(Math.floor(now.getTime() / 1000) * 1000);
  // Keep ids sortable even when an earlier release came from a clock that ran ahead.
  const newest = [...used].filter(isTimestampId).sort().pop();
  if (newest && newest >= timestampId(t)) t = new Date(parseTimestampId(newest).getTime() + 1000);
  while (used.has(timestampId(t))) t = new Date(t.getTime() + 1000);
  return timestampId(t);
}

/** A release id ship makes: 14 digits that are a real UTC date and time (not 99999999999999). */
export function isTimestampId(id: string): boolean {
  const d = parseTimestampId(id);
  return !isNaN(d.getTime()) && timestampId(d) === id;
}

export function parseTimestampId(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(id);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

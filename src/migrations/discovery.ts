/**
 * Migration files and their names (README, Files, order, ledger): `<id>_<name>.<phase>.<ext>` under
 * `migrations.dir`, phase `expand`, `backfill` or `contract` (none: expand). Pure.
 */
export type Phase = 'expand' | 'backfill' | 'contract';

const PHASES: readonly string[] = ['expand', 'backfill', 'contract'];

export interface MigrationName {
  id: string;
  name: string;
  phase: Phase;
  /** The file name (no directory). */
  file: string;
}

/** A migration file found in a release. */
export interface Migration extends MigrationName {
  /** Path relative to the release root, e.g. `migrations/002_split.expand.sql`. */
  path: string;
  sha256: string;
  executable: boolean;
}

/** A file as listed in a release's migrations dir. */
export interface ListedFile {
  file: string;
  sha256: string;
  executable: boolean;
}

const ID_NAME = /^([0-9][0-9A-Za-z]*)_([A-Za-z0-9][A-Za-z0-9_-]*)$/;

/**
 * Parses a file name. `null` for files that are no migration at all (no `<id>_` with a
 * digit first: READMEs, dot files); an Error for names that look like one but are wrong
 * (an unknown phase), so that a typo never turns a contract into an expand.
 */
export function parseMigrationName(file: string): MigrationName | null | Error {
  if (file.startsWith('.')) return null;
  const parts = file.split('.');
  const m = ID_NAME.exec(parts[0]);
  if (!m) return null;
  let phase: Phase = 'expand';
  if (parts.length === 3) {
    if (!PHASES.includes(parts[1])) {
      return new Error(`${file}: unknown phase '${parts[1]}' (expected <id>_<name>.expand.<ext>, <id>_<name>.backfill.<ext> or <id>_<name>.contract.<ext>)`);
    }
    phase = parts[1] as Phase;
  } else if (parts.length > 3) {
    return new Error(`${file}: expected <id>_<name>.<phase>.<ext> (phase expand, backfill or contract)`);
  } else if (parts.length === 2 && PHASES.includes(parts[1])) {
    phase = parts[1] as Phase; // `003_drop.contract` (an executable without extension)
  }
  return { id: m[1], name: m[2], phase, file };
}

/** Id order: numerically when both are all digits (so 9 < 10), else by string. */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    if (x !== y) return x < y ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byId<T extends { id: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => compareIds(a.id, b.id));
}

export interface Discovered {
  migrations: Migration[];
  /** Misnamed files and duplicate ids: the release cannot be migrated. */
  problems: string[];
}

/** The migrations of one release, in id order, from the files of its migrations dir. */
export function discover(files: ListedFile[], dir: string): Discovered {
  const migrations: Migration[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const n = parseMigrationName(f.file);
    if (n === null) continue;
    if (n instanceof Error) {
      problems.push(n.message);
      continue;
    }
    const other = seen.get(n.id);
    if (other) {
      problems.push(`${f.file}: id ${n.id} is also used by ${other}`);
      continue;
    }
    seen.set(n.id, f.file);
    migrations.push({ ...n, path: `${dir.replace(/\/+$/, '')}/${f.file}`, sha256: f.sha256, executable: f.executable });
  }
  return { migrations: byId(migrations), problems };
}

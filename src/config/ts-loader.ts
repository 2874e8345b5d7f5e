import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Loads a `.ts`, `.mts` or `.cts` config with ship's own TypeScript loader (jiti), whatever
 * TypeScript the project has, if any. Sibling imports (`./hosts.ts`, `./hosts`) load the same way.
 * Nothing is written beside the config: transpiled output is cached per user under the cache
 * directory (XDG_CACHE_HOME or ~/.cache, `ship/ts`), or not at all when SHIP_TS_CACHE=0 or
 * that directory cannot be trusted: it must be a real directory owned by this user and
 * writable by no one else, else it is not used and a warning says why. Its entries are 0600.
 * (The cached code runs as this user on the next load: docs/security.md, "Local caches".)
 */
export async function loadTsConfig(file: string): Promise<unknown> {
  const { createJiti } = await import('jiti');
  const cache = tsCacheDir();
  const jiti = createJiti(file, {
    fsCache: cache,
    moduleCache: false,
    interopDefault: true,
    // The project's own tsconfig paths and babel setup play no part: a config is plain TypeScript.
    sourceMaps: false,
    // `import { defineConfig } from 'ship-deploy'` loads ship itself natively, not a second, transpiled copy.
    nativeModules: ['ship-deploy'],
  });
  // `export default {…}` or `module.exports = {…}`: the default export when there is one.
  try {
    return await jiti.import(file, { default: true });
  } finally {
    if (cache) privateEntries(cache);
  }
}

/** Warnings about the cache directory since the last call (loadConfig passes them on). */
const warnings: string[] = [];
export function takeTsCacheWarnings(): string[] {
  return warnings.splice(0);
}

/** The per-user cache directory for transpiled configs, or false (no cache). */
export function tsCacheDir(): string | false {
  const v = process.env.SHIP_TS_CACHE;
  if (v === '0' || v === 'false') return false;
  if (v) return trustedDir(path.resolve(v));
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return trustedDir(path.join(base, 'ship', 'ts'));
}

/** `dir` (made 0700 when missing) when it is a directory of this user's that no one else may write; else false and a warning. */
function trustedDir(dir: string): string | false {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return false;
  }
  const st = lstatSync(dir, { throwIfNoEntry: false });
  const uid = process.getuid?.();
  const why = !st
    ? 'it cannot be read'
    : !st.isDirectory()
      ? 'it is not a directory (a symlink?)'
      : uid !== undefined && st.uid !== uid
        ? `it is owned by uid ${st.uid}, not by this user (uid ${uid})`
        : st.mode & 0o022
          ? `it is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`
          : undefined;
  if (why) {
    warnings.push(`the TypeScript config cache ${dir} is not used: ${why}; the config is compiled without a cache (fix: chmod 700 ${dir}, or SHIP_TS_CACHE=<dir>)`);
    return false;
  }
  return dir;
}

/** Entries of the cache readable by this user only (jiti writes them with the umask's mode). */
function privateEntries(dir: string): void {
  try {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      if (st.isFile() && st.mode & 0o077) chmodSync(p, 0o600);
    }
  } catch {
    /* a cache */
  }
}

import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Loads a `.ts`, `.mts` or `.cts` config with ship's own TypeScript loader (jiti), whatever
 * TypeScript the project has, if any. Sibling imports (`./hosts.ts`, `./hosts`) load the same way.
 * Nothing is written beside the config: transpiled output is cached per user under the cache
 * directory (XDG_CACHE_HOME or ~/.cache, `ship/ts`), or not at all when SHIP_TS_CACHE=0 or
 * that directory cannot be written.
 */
export async function loadTsConfig(file: string): Promise<unknown> {
  const { createJiti } = await import('jiti');
  const jiti = createJiti(file, {
    fsCache: tsCacheDir(),
    moduleCache: false,
    interopDefault: true,
    // The project's own tsconfig paths and babel setup play no part: a config is plain TypeScript.
    sourceMaps: false,
    // `import { defineConfig } from 'ship-deploy'` loads ship itself natively, not a second, transpiled copy.
    nativeModules: ['ship-deploy'],
  });
  // `export default {…}` or `module.exports = {…}`: the default export when there is one.
  return jiti.import(file, { default: true });
}

/** The per-user cache directory for transpiled configs, or false (no cache). */
export function tsCacheDir(): string | false {
  const v = process.env.SHIP_TS_CACHE;
  if (v === '0' || v === 'false') return false;
  if (v) return writableDir(path.resolve(v));
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return writableDir(path.join(base, 'ship', 'ts'));
}

function writableDir(dir: string): string | false {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    return dir;
  } catch {
    return false;
  }
}

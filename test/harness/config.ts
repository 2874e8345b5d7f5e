/** The config problems parseConfig reports for `input`, as `path: message` lines (none: []). */
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

export function configProblems(input: unknown, file = '/srv/project/ship.config.json'): string[] {
  try {
    parseConfig(input, file);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

import type { Step } from './types.js';

/**
 * Runs pending expand migrations on the migration host before the switch
 * (section 4 of DESIGN.md). With no `migrations.run` and no migrations in the
 * release there is nothing to do.
 */
export const migrate: Step = {
  name: 'migrate',
  description: 'run pending expand migrations',
  async run() {},
};

import { promises as fs } from 'node:fs';
import path from 'node:path/posix';
import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import { forEachHost } from '../context.js';
import { UsageError } from '../errors.js';
import { connect } from '../steps/connect.js';
import { lock } from '../steps/lock.js';
import type { Step } from '../steps/types.js';
import { writeAtomic } from '../transport/write-atomic.js';
import { loadStage } from '../run-command.js';
import { readTemplate } from './init.js';

export const MAINTENANCE_FILE = 'maintenance.html';
/**
 * The page as the nginx templates serve it while MAINTENANCE_FILE exists. nginx tests for
 * MAINTENANCE_FILE (`if -f`) and opens the page later in the same request; were they one
 * file, `off` removing it in between would turn that request into nginx's own bare 503 (or
 * a 404). So `on` writes both and `off` removes only MAINTENANCE_FILE.
 */
export const MAINTENANCE_PAGE = '.maintenance-page.html';

/**
 * `ship maintenance <stage> on|off`: puts up or takes down shared/maintenance.html on every
 * host (docs/zero-downtime.md), which the nginx template answers with 503 for every request. The page
 * is `maintenance.page` from the config, else templates/maintenance.html. `on` writes a
 * temporary file and renames it over the page, so nginx never sees half a page; `off`
 * leaves the copy the templates serve (MAINTENANCE_PAGE). Locks like every writing command.
 */
export async function maintenance(o: CommandOptions, mode: 'on' | 'off'): Promise<CommandResult> {
  if (mode !== 'on' && mode !== 'off') throw new UsageError(`maintenance takes on or off, not '${mode}'`);
  let page: Buffer | undefined;
  if (mode === 'on') {
    const stage = await loadStage(o);
    page = await readPage(stage.maintenance.page, stage.app);
  }
  const step: Step = {
    name: 'maintenance',
    description: mode === 'on' ? 'put up shared/maintenance.html' : 'take down shared/maintenance.html',
    async run(ctx, hosts) {
      await forEachHost(ctx, 'maintenance', hosts, async (h) => {
        const file = path.join(h.paths.shared, MAINTENANCE_FILE);
        if (mode === 'off') {
          const was = await h.t.stat(file);
          await h.t.remove(file);
          return was ? `removed ${file}` : 'was not in maintenance';
        }
        // The page nginx serves first, then the file that turns maintenance on.
        await writeAtomic(h.t, path.join(h.paths.shared, MAINTENANCE_PAGE), page!);
        await writeAtomic(h.t, file, page!);
        return `wrote ${file}`;
      });
    },
    async preview(ctx, hosts) {
      await forEachHost(ctx, 'maintenance', hosts, async (h) => {
        const file = path.join(h.paths.shared, MAINTENANCE_FILE);
        if (mode === 'on') return `would write ${file}`;
        return (await h.t.stat(file)) ? `would remove ${file}` : 'was not in maintenance';
      });
    },
  };
  return runCommand('maintenance', o, [connect, lock, step]);
}

async function readPage(configured: string | undefined, app: string): Promise<Buffer> {
  if (!configured) return Buffer.from(await readTemplate('maintenance.html', { app }));
  try {
    const st = await fs.stat(configured);
    if (!st.isFile()) throw new Error('not a file');
    return await fs.readFile(configured);
  } catch {
    throw new UsageError(`maintenance.page ${configured} is missing or not a file`, {
      reason: 'config',
      hint: 'set maintenance.page to an HTML file (relative to the config file), or remove it to use the built-in page',
    });
  }
}

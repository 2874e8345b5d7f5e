import type { Stamped } from '../events.js';
import type { Reporter } from './index.js';

/** One JSON object per line on stdout, nothing else there (`command` events only with verbose). */
export function jsonReporter(out: NodeJS.WritableStream, opts: { verbose?: boolean } = {}): Reporter {
  return {
    handle(e: Stamped) {
      if (e.type === 'command' && !opts.verbose) return;
      out.write(`${JSON.stringify(e)}\n`);
    },
    close() {},
  };
}

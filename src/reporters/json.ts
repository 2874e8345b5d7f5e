import type { Stamped } from '../events.js';
import type { Reporter } from './index.js';

/** One JSON object per line on stdout, nothing else there. */
export function jsonReporter(out: NodeJS.WritableStream): Reporter {
  return {
    handle(e: Stamped) {
      out.write(`${JSON.stringify(e)}\n`);
    },
    close() {},
  };
}

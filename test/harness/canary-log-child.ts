/**
 * Run by test/integration/canary-log.test.ts in its own node process with a small heap
 * (--max-old-space-size): reads `file` from its start as one canary window through the
 * local transport and prints the figures per color as JSON.
 *
 *   node --max-old-space-size=32 --import tsx test/harness/canary-log-child.ts <file>
 */
import { logCursor, readWindow } from '../../src/colors/access-log.js';
import { newTallies } from '../../src/colors/gates.js';
import type { HostRun } from '../../src/context.js';
import { LocalTransport } from '../../src/transport/local.js';

const file = process.argv[2];
const h = { name: 'local', t: new LocalTransport() } as unknown as HostRun;
const tallies = newTallies();
const cursor = await logCursor(h, file);
cursor.offset = 0; // the whole file is the window
const read = await readWindow(h, cursor, { blue: 3001, green: 3002 }, tallies);
process.stdout.write(`${JSON.stringify({ read, blue: tallies.blue.figures(), green: tallies.green.figures() })}\n`);

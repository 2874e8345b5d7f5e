import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalTransport } from '../../src/transport/local.js';
import { transportContract } from './transport.js';

transportContract('local', async () => {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ship-contract-')));
  const t = new LocalTransport('local');
  await t.connect();
  return {
    t,
    root,
    home: os.homedir(),
    cleanup: async () => {
      await t.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}).run();

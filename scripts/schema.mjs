#!/usr/bin/env node
// Writes schema.json (the config's JSON Schema) from the zod schema the built code checks
// configs with, so editors and the package carry the same rules. Runs after `tsc` in `npm run build`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { configSchema } = await import(path.join(root, 'dist/config/schema.js'));
const schema = {
  ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
  title: 'ship config',
  description: 'Config of ship, the Capistrano-style deployer: ship.config.json, ship.config.yaml, .shiprc',
};
writeFileSync(path.join(root, 'schema.json'), `${JSON.stringify(schema, null, 2)}\n`);

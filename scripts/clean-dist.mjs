#!/usr/bin/env node
// Empties dist/ before a pack, so the package holds exactly what the current sources build
// (no output of a deleted source file, no stale source maps).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

rmSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist'), { recursive: true, force: true });

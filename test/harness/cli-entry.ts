// The CLI as tests run it: the TypeScript sources through tsx.
import { main } from '../../src/cli.js';
void main(process.argv.slice(2));

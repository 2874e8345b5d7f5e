/**
 * How a query's result reaches stdout, for every query command alike: JSON lines with
 * `--json` (each row with a `type`), else the command's text. Diagnostics never come here.
 */
export type Printer = (rows: object[], text: string) => void;

/** The `type` of a query's --json rows, by command (a row's own `type` wins). */
const ROW_TYPES: Record<string, string> = { releases: 'release', status: 'status', check: 'check', exec: 'output', init: 'file', migrate: 'migration' };

export function printer(command: string, json: boolean, out: NodeJS.WritableStream = process.stdout): Printer {
  const type = ROW_TYPES[command] ?? 'row';
  return (rows, text) => {
    if (json) for (const r of rows) out.write(`${JSON.stringify({ type, ...r })}\n`);
    else if (text) out.write(text.endsWith('\n') ? text : `${text}\n`);
  };
}

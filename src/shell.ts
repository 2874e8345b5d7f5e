/**
 * The one place shell command text is built. Values are always quoted for a POSIX
 * shell; only the literal parts of the template are taken as shell syntax.
 *
 *   sh`mkdir -p ${dir} && cd ${dir}`   ->  mkdir -p '/var/www/my app' && cd '/var/www/my app'
 */
const SAFE = /^[A-Za-z0-9_\-./:=@%+,]+$/;

/** Quote one word. Safe words stay bare; the rest are single-quoted ('"'"' for a quote). */
export function quote(value: string | number): string {
  const s = String(value);
  if (s !== '' && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** A piece of shell text that is already safe (built by `sh` or `raw`). */
export class Shell {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Literal shell text, for constants written in ship's own source only. */
export function raw(text: string): Shell {
  return new Shell(text);
}

type Value = string | number | Shell | ReadonlyArray<string | number | Shell>;

function render(v: Value): string {
  if (v instanceof Shell) return v.text;
  if (Array.isArray(v)) return v.map((x) => render(x as Value)).join(' ');
  return quote(v as string | number);
}

/** Tagged template: interpolated values are quoted, arrays become quoted words. */
export function sh(strings: TemplateStringsArray, ...values: Value[]): Shell {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Shell(out);
}

/** `export K='v'; …` lines for an environment map (names are checked, values quoted). */
export function exportEnv(env: Record<string, string | undefined>): Shell {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`not a valid environment variable name: ${k}`);
    parts.push(`export ${k}=${quote(v)};`);
  }
  return new Shell(parts.join(' '));
}

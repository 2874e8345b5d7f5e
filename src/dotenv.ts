/**
 * A dotenv parser: ship reads `envFile` itself and never lets a shell source it, so a
 * value is data, never code (`X=$(touch /tmp/pwned)` is the string `$(touch /tmp/pwned)`).
 *
 * Rules (those of the dotenv packages most apps use):
 * - `KEY=value` per line; blank lines and lines starting with `#` are skipped; a leading
 *   `export ` is ignored; spaces around the key and the `=` are ignored.
 * - Unquoted values are trimmed; ` #` starts a comment; inner spaces are kept
 *   (`API_TOKEN=tok ENVFILE-123` is the value `tok ENVFILE-123`).
 * - 'single quotes': taken literally, may span lines.
 * - "double quotes": may span lines; `\n`, `\r`, `\t`, `\"`, `\\` and `\$` are escapes
 *   (any other backslash stays as written); `$VAR` is NOT expanded.
 * - A line that is not `KEY=…` with a valid name (letters, digits, `_`, not starting
 *   with a digit) is skipped and reported in `skipped` (line numbers only, never values).
 */
export interface DotenvResult {
  values: Record<string, string>;
  /** 1-based line numbers of lines that were not understood. */
  skipped: number[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseDotenv(text: string): DotenvResult {
  const values: Record<string, string> = {};
  const skipped: number[] = [];
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  const n = src.length;
  while (i < n) {
    const startLine = line;
    let end = src.indexOf('\n', i);
    if (end < 0) end = n;
    const head = src.slice(i, end);
    const trimmed = head.trim();
    if (!trimmed || trimmed.startsWith('#')) {
      i = end + 1;
      line++;
      continue;
    }
    const m = /^\s*(?:export\s+)?([^=\s]+)\s*=\s*/.exec(head);
    if (!m || !KEY.test(m[1])) {
      skipped.push(startLine);
      i = end + 1;
      line++;
      continue;
    }
    const key = m[1];
    let j = i + m[0].length;
    const q = src[j];
    if (q === '"' || q === "'") {
      // Quoted: find the closing quote, possibly on a later line.
      let k = j + 1;
      let value = '';
      let closed = false;
      while (k < n) {
        const c = src[k];
        if (c === q) {
          closed = true;
          break;
        }
        if (q === '"' && c === '\\' && k + 1 < n) {
          const e = src[k + 1];
          const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
          if (e in map) {
            value += map[e];
            k += 2;
            continue;
          }
        }
        if (c === '\n') line++;
        value += c;
        k++;
      }
      if (!closed) {
        // No closing quote: the line is malformed; skip just it (as dotenv does, value lost).
        skipped.push(startLine);
        line = startLine + 1;
        i = end + 1;
        continue;
      }
      values[key] = value;
      // Rest of the line after the closing quote: only a comment may follow.
      let after = src.indexOf('\n', k + 1);
      if (after < 0) after = n;
      i = after + 1;
      line++;
      continue;
    }
    let value = src.slice(j, end);
    const hash = value.search(/(^|\s)#/);
    if (hash >= 0) value = value.slice(0, hash);
    values[key] = value.trim();
    i = end + 1;
    line++;
  }
  return { values, skipped };
}

/**
 * `{file}` in `migrations.run`, made safe however the user quoted it. The file name never
 * enters the command text: each `{file}` becomes a reference to $SHIP_MIGRATION_FILE
 * (set for every migration run) written for the quoting context it stands in:
 *
 *   bare          -f {file}        ->  -f "$SHIP_MIGRATION_FILE"
 *   "double"      -f "{file}"      ->  -f "${SHIP_MIGRATION_FILE}"    (a `$(…)` in the name stays text)
 *   'single'      sh -c 'x {file}' ->  sh -c 'x "$SHIP_MIGRATION_FILE"'  (expanded by that inner shell)
 *
 * A variable expanded by the shell is data: command substitution, backticks and quotes
 * in a migration's file name are never interpreted.
 */
export function substituteFile(template: string, variable = 'SHIP_MIGRATION_FILE'): string {
  return substituteVariable(template, '{file}', variable);
}

/** Every `placeholder` in `template` becomes a reference to `variable`, as substituteFile does for `{file}`. */
export function substituteVariable(template: string, placeholder: string, variable: string): string {
  let out = '';
  let state: 'bare' | 'single' | 'double' = 'bare';
  for (let i = 0; i < template.length; i++) {
    if (template.startsWith(placeholder, i)) {
      // In single quotes the text goes to another interpreter (sh -c '…'): it gets the
      // reference itself, which a shell there expands as data (the variable is exported).
      out += state === 'bare' ? `"$${variable}"` : state === 'double' ? `\${${variable}}` : `"$${variable}"`;
      i += placeholder.length - 1;
      continue;
    }
    const c = template[i];
    out += c;
    if (state === 'single') {
      if (c === "'") state = 'bare';
    } else if (c === '\\' && i + 1 < template.length) {
      out += template[++i]; // an escaped character keeps its meaning and never changes the state
    } else if (state === 'double') {
      if (c === '"') state = 'bare';
    } else if (c === "'") state = 'single';
    else if (c === '"') state = 'double';
  }
  return out;
}

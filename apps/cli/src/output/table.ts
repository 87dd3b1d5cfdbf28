/** Human output of the tenant commands: aligned tables, cut to the terminal, or JSON with --json. */

/** Any object; its fields are read by column name. */
export type Row = object;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ');
}

/** Columns in order; the last one takes what is left of `width` and is cut with an ellipsis. */
export function renderTable(rows: Row[], columns: string[], width = 120): string {
  if (rows.length === 0) return '(none)\n';
  const texts = rows.map((row) => columns.map((c) => cell((row as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...texts.map((t) => t[i].length)));
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  widths[widths.length - 1] = Math.max(columns[columns.length - 1].length, Math.min(widths[widths.length - 1], width - fixed));
  const line = (values: string[]) =>
    values
      .map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : i === values.length - 1 ? v : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.toUpperCase())), ...texts.map(line)].join('\n')}\n`;
}

export interface OutputOptions {
  json?: boolean;
}

/** Prints a value as JSON (--json) or as a table of `columns`. */
export function print(options: OutputOptions, value: unknown, rows: Row[], columns: string[], out: NodeJS.WriteStream = process.stdout): void {
  if (options.json) out.write(`${JSON.stringify(value, null, 2)}\n`);
  else out.write(renderTable(rows, columns, out.columns || 120));
}

/** A count progress bar on stderr, redrawn at most every 100 ms and at the end. */
export function countProgress(label: string, total: number, out: NodeJS.WritableStream = process.stderr): { update(done: number): void; end(): void } {
  let last = 0;
  let drawn = false;
  const draw = (done: number) => {
    const pct = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100;
    const fill = Math.round((30 * pct) / 100);
    out.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(30 - fill)}] ${pct}% ${done}/${total}`);
    drawn = true;
  };
  return {
    update(done: number) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      draw(done);
    },
    end() {
      if (drawn) out.write('\n');
    },
  };
}

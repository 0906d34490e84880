/**
 * A plain-text table of what inspection found, for `dg inspect`.
 */
import type { Inspection } from './import.ts';
import { describeStep, formatLike } from './time-pattern.ts';
import type { TimePattern } from './types.ts';

const fmt = (x: number | undefined): string => {
  if (x === undefined) return '';
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1e5 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toPrecision(4);
};

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows
    .map((r) =>
      r
        .map((cell, j) => cell.padEnd(widths[j]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A time column's first and last stamps in the input's format (dates are not shown as epoch milliseconds), and its step. */
function timeRange(time: TimePattern, min: number, max: number): string {
  const dates = time.type === 'date' || time.type === 'datetime';
  const show = (x: number) => (dates ? formatLike(String(time.start), x) : fmt(x));
  return `${show(min)} .. ${show(max)} (step ${describeStep(time)})`;
}

/** Layout, series counts, one line per column (kind, role, counts, range or top categories), then warnings. */
export function formatSchemaSummary(inspection: Inspection): string {
  const { schema, stats, lengths } = inspection;
  const layout = schema.layout;
  const layoutText =
    layout.kind === 'long'
      ? `long, series id '${layout.idColumn}'${layout.timeColumn ? `, time '${layout.timeColumn}'` : ''}`
      : layout.kind === 'long-chunked'
        ? `long, chunks of ${layout.chunkSize} rows${layout.timeColumn ? `, time '${layout.timeColumn}'` : ''}`
        : `wide${layout.idColumn ? `, id '${layout.idColumn}'` : ''}`;
  const lines = [
    `layout: ${layoutText}`,
    `series: ${inspection.series} (length min ${lengths.min}, mean ${fmt(lengths.mean)}, max ${lengths.max}); ` +
      `maxLength ${schema.maxLength}, long series: ${schema.longSeries}, missing values: ${schema.missing}`,
    '',
  ];
  const rows = [['column', 'kind', 'role', 'values', 'missing', 'distinct', 'range / top categories']];
  for (const s of stats) {
    const time = s.kind === 'time' ? schema.columns.find((c) => c.name === s.name)?.time : undefined;
    const detail =
      time && s.min !== undefined
        ? timeRange(time, s.min, s.max!)
        : s.topCategories
          ? s.topCategories
              .slice(0, 4)
              .map((c) => `${c.label} (${c.count})`)
              .join(', ') + (s.distinct > 4 ? ', ...' : '')
          : s.min !== undefined
            ? `${fmt(s.min)} .. ${fmt(s.max)} (mean ${fmt(s.mean)}, sd ${fmt(s.std)})`
            : '';
    rows.push([s.name, s.kind, s.role, String(s.count), String(s.missing), String(s.distinct), detail]);
  }
  lines.push(table(rows));
  if (inspection.warnings.length) {
    lines.push('', 'warnings:', ...inspection.warnings.map((w) => `- ${w}`));
  }
  return lines.join('\n');
}

/**
 * Checks on a file read into column stores, before any Dataset is built: numbers beyond float range,
 * extreme outliers, categories too many to encode. Each looks at the stores once (a pass over a
 * continuous column's numbers at most); none copies a column.
 */
import type { ResolvedVariable } from './infer.ts';
import type { ColumnTable } from './table.ts';
import { DataError } from './types.ts';
import { isOutOfRange, quote } from './values.ts';

/** More categories than this in an attribute or feature and the file is refused before the Dataset is built. */
export const MAX_CATEGORIES = 10_000;

/** A value this far from the median, in interquartile ranges, is flagged as an extreme outlier. */
export const OUTLIER_IQRS = 1e6;
/** A value larger than this in magnitude is flagged whatever the spread. */
export const OUTLIER_MAGNITUDE = 1e30;
/** Values sampled (evenly spaced) for a column's median and quartiles. */
const QUANTILE_SAMPLE = 1 << 16;

/**
 * A number too large for a 64-bit float (1e400 reads as Infinity) is refused like `inf`, naming the
 * file, row and column. `parseNumber` leaves such cells as text, so each column's first text cell tells.
 */
export function outOfRangeError(table: ColumnTable): DataError | null {
  for (let c = 0; c < table.stores.length; c++) {
    const store = table.stores[c];
    const bad = store.firstText;
    if (store.mode === 'count' || !bad || !isOutOfRange(bad.value)) continue;
    const column = table.names[c];
    return new DataError(
      `${table.file}, ${table.where(bad.row)}, column '${column}': ${quote(bad.value.trim())} is beyond the range of numbers (about ±1.8e308), like 'inf'`,
      table.file,
      table.rowNumber(bad.row),
      column,
      { text: 'fix the value (a unit or exponent typo?) or leave the cell empty' },
    );
  }
  return null;
}

/**
 * Warnings for continuous columns holding a value more than OUTLIER_IQRS interquartile ranges from the
 * median, or beyond ±OUTLIER_MAGNITUDE: one per column, naming the row of its most extreme value.
 */
export function outlierWarnings(table: ColumnTable, variables: ResolvedVariable[]): string[] {
  const warnings: string[] = [];
  for (const v of variables) {
    if (v.kind !== 'continuous' || (v.role !== 'attribute' && v.role !== 'feature')) continue;
    const stores = v.columns.map((c) => table.stores[c]);
    if (stores.some((s) => !s.numbers)) continue;
    const total = stores.reduce((n, s) => n + s.numbers!.length, 0);
    if (total === 0) continue;
    // median and quartiles from an evenly spaced sample of the cells
    const step = Math.max(1, Math.floor(total / QUANTILE_SAMPLE));
    const sample = new Float64Array(Math.ceil(total / step));
    let n = 0;
    let offset = 0;
    for (const s of stores) {
      const numbers = s.numbers!;
      for (let r = (step - (offset % step)) % step; r < numbers.length; r += step) if (Number.isFinite(numbers[r])) sample[n++] = numbers[r];
      offset += numbers.length;
    }
    if (n === 0) continue;
    const sorted = sample.subarray(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * (n - 1)))];
    const median = at(0.5);
    const iqr = at(0.75) - at(0.25);
    // one pass: the value farthest from the median
    let worst = 0;
    let worstColumn = -1;
    let worstRow = -1;
    for (let k = 0; k < stores.length; k++) {
      const numbers = stores[k].numbers!;
      for (let r = 0; r < numbers.length; r++) {
        const d = Math.abs(numbers[r] - median);
        if (d > worst) {
          worst = d;
          worstColumn = v.columns[k];
          worstRow = r;
        }
      }
    }
    if (worstRow < 0) continue;
    const x = table.stores[worstColumn].numbers![worstRow];
    const huge = Math.abs(x) > OUTLIER_MAGNITUDE;
    if (!huge && !(iqr > 0 && worst > OUTLIER_IQRS * iqr)) continue;
    const why = huge ? `beyond ±${OUTLIER_MAGNITUDE.toExponential()}` : `${(worst / iqr).toExponential(1)} interquartile ranges from the median ${median}`;
    warnings.push(
      `column '${table.names[worstColumn]}' has an extreme value, ${x} at ${table.where(worstRow)} (${why}); scaling by the range would squeeze every other value to one point: check it for a typo, or leave the cell empty`,
    );
  }
  return warnings;
}

/** Distinct labels of a categorical variable (the union over a wide group's columns). */
function categoryCount(table: ColumnTable, v: ResolvedVariable): number {
  if (v.columns.length === 1) return table.stores[v.columns[0]].distinct();
  const labels = new Set<string>();
  for (const c of v.columns) for (const label of table.stores[c].labels) labels.add(label);
  return labels.size;
}

/**
 * Categorical attributes and features with more than MAX_CATEGORIES labels: an error (reading) or a
 * warning (inspecting) naming the column and its count. Each category is a one-hot column of the model,
 * so 45,000 of them would need gigabytes before training starts.
 */
export function categoryLimitProblems(table: ColumnTable, variables: ResolvedVariable[]): { message: string; column: string }[] {
  const problems: { message: string; column: string }[] = [];
  for (const v of variables) {
    if (v.kind !== 'categorical' || (v.role !== 'attribute' && v.role !== 'feature')) continue;
    const count = categoryCount(table, v);
    if (count <= MAX_CATEGORIES) continue;
    problems.push({
      column: v.name,
      message: `the ${v.role} '${v.name}' has ${count.toLocaleString('en-US')} categories, more than the ${MAX_CATEGORIES.toLocaleString('en-US')} a model can encode (each is a one-hot column)`,
    });
  }
  return problems;
}

export const CATEGORY_HINT = "leave the column out (role 'ignore' in the schema, or not in --attributes/--features), or coarsen it into fewer categories (group rare values as 'other')";

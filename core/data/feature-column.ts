/**
 * Helpers for a series' feature columns (Float64Array for continuous features, string[] for categorical
 * ones), so producers and consumers need not branch on the two kinds everywhere.
 */
import type { ColumnSchema, FeatureColumn, Series, Value } from './types.ts';

const isCategorical = (column: ColumnSchema) => column.kind !== 'continuous';

/** An empty column of `length` steps for this feature: NaN-filled numbers or ''-filled labels. */
export function emptyColumn(column: ColumnSchema | { categorical: boolean }, length: number): FeatureColumn {
  const categorical = 'categorical' in column ? column.categorical : isCategorical(column);
  return categorical ? new Array<string>(length).fill('') : new Float64Array(length).fill(NaN);
}

/** A column holding `values`, typed for the feature's kind (numbers become labels for categorical features). */
export function columnOf(column: ColumnSchema, values: ArrayLike<Value>): FeatureColumn {
  if (isCategorical(column)) return Array.from(values, (x) => String(x));
  const out = new Float64Array(values.length);
  for (let t = 0; t < values.length; t++) out[t] = values[t] as number;
  return out;
}

/** Steps a..b (exclusive) as a copy, so the result owns its memory. */
export const sliceColumn = (column: FeatureColumn, a: number, b: number): FeatureColumn => column.slice(a, b);

/** The steps at `steps` (ascending), as a new column. */
export function pickSteps(column: FeatureColumn, steps: ArrayLike<number>): FeatureColumn {
  if (column instanceof Float64Array) {
    const out = new Float64Array(steps.length);
    for (let k = 0; k < steps.length; k++) out[k] = column[steps[k]];
    return out;
  }
  return Array.from(steps, (t) => column[t]);
}

/** Step t of every feature, in Dataset.features order: a row view for the few callers that want one. */
export function stepValues(series: Series, t: number): Value[] {
  return series.features.map((column) => column[t]);
}

/** Every step as a row (features in order): for small data, tests and text output. */
export function featureRows(series: Series): Value[][] {
  const rows: Value[][] = new Array(series.length);
  for (let t = 0; t < series.length; t++) rows[t] = stepValues(series, t);
  return rows;
}

/**
 * Feature columns from rows (features[t][f]), typed per the dataset's feature columns; for building small
 * datasets by hand.
 */
export function columnsFromRows(features: ColumnSchema[], rows: Value[][]): FeatureColumn[] {
  return features.map((column, f) =>
    columnOf(
      column,
      rows.map((row) => row[f]),
    ),
  );
}

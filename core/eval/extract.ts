/**
 * Turns a Dataset into the plain arrays the metrics work on: one Float64Array per series per continuous
 * feature (the series' own column when it already is one: no copy), one label per series per categorical
 * attribute.
 */

import type { ColumnSchema, Dataset, FeatureColumn, Series, Value } from '../data/types.ts';

export interface PlainDataset {
  /** Continuous feature names, in dataset order. */
  featureNames: string[];
  /** features[f][s]: the values of continuous feature f in series s, one per time step (read only: may be the dataset's own column). */
  features: Float64Array[][];
  /** Categorical feature names and their pooled labels per series (rare: most features are continuous). */
  categoricalFeatureNames: string[];
  categoricalFeatures: string[][][];
  /** Categorical attribute names, in dataset order. */
  categoricalNames: string[];
  /** categorical[a][s]: the label of categorical attribute a for series s. */
  categorical: string[][];
  continuousAttributeNames: string[];
  /** continuousAttributes[a][s]: the value of continuous attribute a for series s. */
  continuousAttributes: number[][];
  lengths: number[];
  ids: string[];
}

function isCategorical(column: ColumnSchema): boolean {
  return column.kind === 'categorical';
}

/** Throws when two datasets do not share the same attribute and feature columns (by name, in order). */
export function assertSameColumns(reference: Dataset, other: Dataset, otherName: string): void {
  const names = (columns: ColumnSchema[]) => columns.map((column) => column.name).join(', ');
  if (names(reference.attributes) !== names(other.attributes) || names(reference.features) !== names(other.features)) {
    throw new Error(
      `The ${otherName} data has different columns from the real data: attributes [${names(other.attributes)}] and features [${names(other.features)}] ` +
        `vs [${names(reference.attributes)}] and [${names(reference.features)}]. Evaluate datasets with the same schema.`,
    );
  }
}

/**
 * Columns are classified by the reference (real) dataset's schema so that real and synthetic data
 * are always read the same way.
 */
export function toPlain(dataset: Dataset, reference: Dataset = dataset, name = 'real'): PlainDataset {
  const featureIndex = reference.features.map((column, index) => ({ column, index }));
  const continuousFeatures = featureIndex.filter(({ column }) => !isCategorical(column));
  const categoricalFeatures = featureIndex.filter(({ column }) => isCategorical(column));
  const attributeIndex = reference.attributes.map((column, index) => ({ column, index }));
  const categoricalAttributes = attributeIndex.filter(({ column }) => isCategorical(column));
  const continuousAttributes = attributeIndex.filter(({ column }) => !isCategorical(column));

  const features = continuousFeatures.map(({ column, index }) => dataset.series.map((series) => finiteNumbers(series, series.features[index], column, name)));
  const continuousAttributeValues = continuousAttributes.map(({ column, index }) =>
    dataset.series.map((series) => {
      const value = Number(series.attributes[index]);
      if (!Number.isFinite(value)) throw new Error(`The ${name} data has a missing or non-numeric value for attribute ${column.name} in series ${series.id}.`);
      return value;
    }),
  );
  return {
    featureNames: continuousFeatures.map(({ column }) => column.name),
    features,
    categoricalFeatureNames: categoricalFeatures.map(({ column }) => column.name),
    categoricalFeatures: categoricalFeatures.map(({ index }) => dataset.series.map((series) => Array.from(series.features[index] as ArrayLike<Value>, (x) => String(x)))),
    categoricalNames: categoricalAttributes.map(({ column }) => column.name),
    categorical: categoricalAttributes.map(({ index }) => dataset.series.map((series) => String(series.attributes[index]))),
    continuousAttributeNames: continuousAttributes.map(({ column }) => column.name),
    continuousAttributes: continuousAttributeValues,
    lengths: dataset.series.map((series) => series.length),
    ids: dataset.series.map((series) => series.id),
  };
}

/** A continuous feature column as numbers, every one finite (labels are parsed, as a schema mismatch may give them). */
function finiteNumbers(series: Series, values: FeatureColumn, column: ColumnSchema, name: string): Float64Array {
  const numbers = values instanceof Float64Array ? values : Float64Array.from(values, (x) => (typeof x === 'number' ? x : Number(x)));
  for (let t = 0; t < numbers.length; t++) {
    if (!Number.isFinite(numbers[t])) {
      throw new Error(
        `The ${name} data has a missing or non-numeric value in series ${series.id}, step ${t}, feature ${column.name}: ` + 'evaluation needs complete series (import fills or drops missing values).',
      );
    }
  }
  return numbers;
}

/** All values of one feature across series and steps, in one array. */
export function pooled(seriesList: ReadonlyArray<ArrayLike<number>>): Float64Array {
  let size = 0;
  for (const series of seriesList) size += series.length;
  const out = new Float64Array(size);
  let offset = 0;
  for (const series of seriesList) {
    out.set(series, offset);
    offset += series.length;
  }
  return out;
}

/**
 * What a dataset is, in the user's own units: the types every stage from import to export shares.
 */
import { ApiError, type ErrorHint } from '../util/errors.ts';

/** What kind of values a column holds. */
export type ColumnKind = 'continuous' | 'categorical' | 'time' | 'id';

/** What a column means for the model. Attributes are constant within a series; features vary over time. */
export type ColumnRole = 'attribute' | 'feature' | 'id' | 'time' | 'ignore';

export interface ColumnSchema {
  name: string;
  kind: ColumnKind;
  role: ColumnRole;
  /** Categorical only: the known labels, in encoding order. */
  categories?: string[];
  /** Continuous only: the observed range in the training data (encoding scales by it). */
  min?: number;
  max?: number;
  /**
   * Wide layout only, for features: the source columns holding time steps 0..T-1 of this feature
   * (for example traffic_0, traffic_1, ...).
   */
  wideColumns?: string[];
  /**
   * Continuous only: the most decimals a value of this column had in the input (0 for whole numbers), so
   * export writes numbers at the input's precision. Absent in schemas written before it existed.
   */
  decimals?: number;
  /** Time column only: the stamps' type and pattern, so generated series get stamps in the input's units. */
  time?: TimePattern;
}

/**
 * What a time column holds and how its stamps go: generated series start at `start` and advance by `step`.
 * - integer / number: `start` and `step` in the column's units (`decimals`: the most decimals a stamp had);
 * - date / datetime: `start` as written in the input (its format is the one export writes), `step` in `unit`s
 *   (milliseconds, or calendar months for monthly and yearly data).
 */
export interface TimePattern {
  type: 'integer' | 'number' | 'date' | 'datetime';
  start: number | string;
  step: number;
  unit?: 'ms' | 'month';
  decimals?: number;
}

/** How rows become series. */
export type Layout = { kind: 'long'; idColumn: string; timeColumn?: string } | { kind: 'long-chunked'; chunkSize: number; timeColumn?: string } | { kind: 'wide'; idColumn?: string };

/** The full description of a dataset; a schema JSON file written by `dg inspect --write-schema` is one of these. */
export interface Schema {
  version: 1;
  layout: Layout;
  columns: ColumnSchema[];
  /** Longest series the model handles (T). */
  maxLength: number;
  /** What happens to series longer than maxLength. */
  longSeries: 'split' | 'truncate';
  /** What happens to missing feature values. */
  missing: 'interpolate' | 'drop';
}

/** A value in the user's units: a number for continuous columns, a label for categorical ones. */
export type Value = number | string;

/**
 * One feature's values over a series' time steps: numbers for continuous features, labels for categorical
 * ones. Columns rather than one array per step, so a long dataset costs about 8 bytes per value, not ~100
 * bytes per step (a 1 GB file must not need 1 GB of heap).
 */
export type FeatureColumn = Float64Array | string[];

/**
 * A series' time stamps, one per step: numbers (import gives a Float64Array, a view of the time column read
 * where the series' rows are consecutive in the file) or labels (dates as written).
 */
export type TimeStamps = Float64Array | Value[];

export interface Series {
  id: string;
  /** One value per attribute column, in `Dataset.attributes` order. */
  attributes: Value[];
  /** Number of time steps. */
  length: number;
  /**
   * features[f][t]: feature column f (in `Dataset.features` order) at time step t; each has `length` entries.
   * Float64Array for continuous features, string[] for categorical ones.
   */
  features: FeatureColumn[];
  /** Original time stamps (long layout with a time column), one per step, as read. */
  times?: TimeStamps;
  /** A piece of a longer series split at import: the id of the series it came from (pieces share one). */
  source?: string;
}

export interface Dataset {
  schema: Schema;
  /** Attribute columns, in order. */
  attributes: ColumnSchema[];
  /** Feature columns, in order. */
  features: ColumnSchema[];
  series: Series[];
  /**
   * 'float32' when the values went through the model (decoded): export writes continuous values at most at
   * float32's precision (9 significant digits) where a column does not record the input's decimals.
   */
  precision?: 'float32';
}

/** What import reports besides the data: counts of repairs, so the user knows what was changed. */
export interface ImportReport {
  file: string;
  rows: number;
  series: number;
  /** Missing feature values filled by interpolation, or rows dropped, per the schema's policy. */
  missingInterpolated: number;
  missingRowsDropped: number;
  /** Series longer than maxLength that were split or truncated. */
  seriesSplit: number;
  seriesTruncated: number;
  warnings: string[];
}

/**
 * An input problem the user can fix. The message names the file, row (1-based, counting the header as
 * row 1 for CSV), column and what to do.
 */
export class DataError extends ApiError {
  constructor(
    message: string,
    readonly file: string,
    readonly row?: number,
    readonly column?: string,
    hint?: ErrorHint,
  ) {
    const where = Object.fromEntries(Object.entries({ file, row, column }).filter(([, v]) => v !== undefined));
    super('data_error', message, { where, ...(hint ? { hint } : {}) });
    this.name = 'DataError';
  }
}

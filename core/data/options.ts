import type { ColumnKind, ColumnRole, Schema } from './types.ts';

/** How to read a file. Everything is optional: what is not given is inferred (see core/data/README.md). */
export interface ReadOptions {
  /** Overrides inference completely where given (e.g. loaded from a schema JSON). */
  schema?: Schema;
  /** Layout: long with id (+time), or fixed chunks of consecutive rows when there is no id; wide is detected. */
  idColumn?: string;
  timeColumn?: string;
  chunkSize?: number;
  /** Force roles; the other non-id/time columns become 'ignore' if either list is given. */
  attributes?: string[];
  features?: string[];
  /** Columns whose kind is forced (over inference and a schema): numbers read as category labels, or as amounts. */
  categorical?: string[];
  continuous?: string[];
  /** Default: the longest series. */
  maxLength?: number;
  /** Default 'split'. */
  longSeries?: 'split' | 'truncate';
  /** Default 'interpolate'. */
  missing?: 'interpolate' | 'drop';
  /** Default: sniffed among , ; tab | (tab for .tsv). */
  delimiter?: string;
  /**
   * CSV text encoding when the file has no byte order mark. Default 'utf-8': invalid UTF-8 is an error
   * naming the line. 'latin-1' reads every byte as one character (ISO 8859-1). UTF-16 is recognized by
   * itself (byte order mark or NUL pattern).
   */
  encoding?: 'utf-8' | 'latin-1';
}

/** Reading progress: `done` of `total` in `unit` ('bytes' for CSV, 'rows' for Parquet, 'record batches' for Arrow). */
export type ReadProgress = (done: number, total: number, unit: 'bytes' | 'rows' | 'record batches') => void;

export interface ColumnStats {
  name: string;
  kind: ColumnKind;
  role: ColumnRole;
  /** Non-missing cells. */
  count: number;
  missing: number;
  distinct: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  /** Categorical: the most frequent labels (up to 10), most frequent first. */
  topCategories?: { label: string; count: number }[];
}

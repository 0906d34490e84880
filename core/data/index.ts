/**
 * Import: CSV / Parquet / Arrow IPC -> Dataset, with schema inference and validation.
 * See core/data/README.md for the rules (layouts, inference, missing values, errors).
 */
export type { ColumnStats, ReadOptions, ReadProgress } from './options.ts';
export { inspectFile, readDataset, type Inspection } from './import.ts';
export { loadSchemaFile, validateSchema } from './schema-file.ts';
export { formatSchemaSummary } from './summary.ts';
export * from './types.ts';

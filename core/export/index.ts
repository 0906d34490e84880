/**
 * Export: writes a Dataset (real or synthetic) to CSV, Parquet or Arrow IPC, in long or wide layout,
 * atomically. The format comes from the file extension.
 */
import { extname } from 'node:path';
import type { Dataset } from '../data/types.ts';
import { writeArrowFile } from './arrow.ts';
import { writeAtomically } from '../util/atomic-file.ts';
import { longTable, wideTable, type ExportLayout, type ResolvedOptions, type RowTable } from './columns.ts';
import { writeCsv } from './csv.ts';
import { writeParquetFile } from './parquet.ts';

export type { ExportLayout } from './columns.ts';

export interface ExportOptions {
  /** Default: the dataset schema's layout kind ('long-chunked' counts as long). */
  layout?: ExportLayout;
  /** Default: the schema's id column, or 'series_id'. */
  idColumn?: string;
  /** Default: the schema's time column, or 'step'. Long layout only. */
  timeColumn?: string;
}

export type ExportFormat = 'csv' | 'parquet' | 'arrow';

export interface ExportResult {
  file: string;
  rows: number;
  format: ExportFormat;
}

const FORMATS: Record<string, ExportFormat> = {
  '.csv': 'csv',
  '.parquet': 'parquet',
  '.arrow': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow',
};

export function formatOf(file: string): ExportFormat {
  const format = FORMATS[extname(file).toLowerCase()];
  if (!format) throw new Error(`cannot tell the export format of '${file}': use a .csv, .parquet or .arrow (.feather, .ipc) file name`);
  return format;
}

export function resolveOptions(dataset: Dataset, options: ExportOptions = {}): ResolvedOptions {
  const { layout, columns } = dataset.schema;
  const schemaId = (layout.kind === 'long' || layout.kind === 'wide' ? layout.idColumn : undefined) ?? columns.find((c) => c.role === 'id')?.name;
  const schemaTime = (layout.kind === 'wide' ? undefined : layout.timeColumn) ?? columns.find((c) => c.role === 'time')?.name;
  return {
    layout: options.layout ?? (layout.kind === 'wide' ? 'wide' : 'long'),
    idColumn: options.idColumn ?? schemaId ?? 'series_id',
    timeColumn: options.timeColumn ?? schemaTime ?? 'step',
  };
}

export function exportTable(dataset: Dataset, options?: ExportOptions): RowTable {
  const resolved = resolveOptions(dataset, options);
  return resolved.layout === 'wide' ? wideTable(dataset, resolved) : longTable(dataset, resolved);
}

export async function writeDataset(dataset: Dataset, file: string, options?: ExportOptions): Promise<ExportResult> {
  const format = formatOf(file);
  const table = exportTable(dataset, options);
  const write = format === 'csv' ? writeCsv : format === 'parquet' ? writeParquetFile : writeArrowFile;
  await writeAtomically(file, (handle) => write(handle, table));
  return { file, rows: table.rowCount, format };
}

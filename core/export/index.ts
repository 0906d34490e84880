/**
 * Export: writes a Dataset (real or synthetic) to CSV, Parquet or Arrow IPC, in long or wide layout,
 * atomically. The format comes from the file extension.
 */
import { extname } from 'node:path';
import type { Dataset } from '../data/types.ts';
import { writeAtomically } from '../util/atomic-file.ts';
import { longTable, wideTable, type ExportLayout, type ResolvedOptions, type RowTable, type TableColumn } from './columns.ts';
import { csvWriter } from './csv.ts';

export type { ExportLayout } from './columns.ts';

export interface ExportOptions {
  /** Default: the dataset schema's layout kind ('long-chunked' counts as long). */
  layout?: ExportLayout;
  /** Default: the schema's id column, or 'series_id'. */
  idColumn?: string;
  /** Default: the schema's time column, or 'step'. Long layout only. */
  timeColumn?: string;
  /** Wide layout: steps per feature (columns `<feature>_0` ...); default: the longest series. */
  seriesLength?: number;
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
    seriesLength: options.seriesLength,
  };
}

export function exportTable(dataset: Dataset, options?: ExportOptions): RowTable {
  const resolved = resolveOptions(dataset, options);
  return resolved.layout === 'wide' ? wideTable(dataset, resolved) : longTable(dataset, resolved);
}

const sameColumns = (a: TableColumn[], b: TableColumn[]) => a.length === b.length && a.every((c, i) => c.name === b[i].name && c.type === b[i].type);

/**
 * Writes a dataset that arrives in parts (generation of many series, a part at a time) as one file,
 * atomically, holding one part in memory at a time. Every part must give the same columns: for the
 * wide layout pass `seriesLength`.
 */
export async function writeDatasetParts(parts: AsyncIterable<Dataset> | Iterable<Dataset>, file: string, options?: ExportOptions): Promise<ExportResult> {
  const format = formatOf(file);
  let rows = 0;
  await writeAtomically(file, async (handle) => {
    // The Parquet and Arrow writers load apache-arrow (and parquet-wasm, which compiles its WebAssembly
    // when imported) only when such a file is written: CSV users do not pay for them.
    const writer = format === 'csv' ? csvWriter(handle) : format === 'parquet' ? await (await import('./parquet.ts')).parquetWriter(handle) : (await import('./arrow.ts')).arrowWriter(handle);
    let columns: TableColumn[] | undefined;
    try {
      for await (const part of parts) {
        const table = exportTable(part, options);
        columns ??= table.columns;
        if (!sameColumns(columns, table.columns)) {
          throw new Error(
            `part ${JSON.stringify(table.columns.map((c) => `${c.name}:${c.type}`))} of the export has other columns than its first ${JSON.stringify(columns.map((c) => `${c.name}:${c.type}`))}`,
          );
        }
        await writer.write(table);
        rows += table.rowCount;
      }
      if (!columns) throw new Error(`nothing to write to ${file}: no part of the dataset arrived`);
      await writer.finish();
    } catch (error) {
      await writer.abort(error);
      throw error;
    }
  });
  return { file, rows, format };
}

export async function writeDataset(dataset: Dataset, file: string, options?: ExportOptions): Promise<ExportResult> {
  return writeDatasetParts([dataset], file, options);
}

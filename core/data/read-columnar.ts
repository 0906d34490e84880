/**
 * Arrow IPC (file or stream) and Parquet -> column stores, one record batch at a time. Parquet is
 * decoded by parquet-wasm (every codec, ZSTD included) from a lazily read file Blob, so only one batch
 * is in memory at once; batches reach us as Arrow, and both formats share the cell conversion.
 */
import * as fs from 'node:fs';
import type { DataType, RecordBatch, Schema as ArrowSchema } from 'apache-arrow';
import type * as ParquetWasm from 'parquet-wasm';
import type { ColumnStore } from './columns.ts';
import { checkHeader, makeStores, type ColumnTable, type FileFormat, type StorePlan } from './table.ts';
import { DataError } from './types.ts';
import type { ReadProgress } from './options.ts';
import { MAX_CELL_CHARS } from './values.ts';

const PARQUET_BATCH_ROWS = 65_536;

// Loaded at the first Arrow or Parquet read (parquet-wasm compiles its WebAssembly when imported): CSV
// readers and commands that read nothing do not pay for them.
let arrowModule: Promise<typeof import('apache-arrow')> | undefined;
let parquetModule: Promise<typeof ParquetWasm> | undefined;
const loadArrow = () => (arrowModule ??= import('apache-arrow'));
const loadParquet = () => (parquetModule ??= import('parquet-wasm'));

export async function readArrowTable(file: string, plan: StorePlan, onProgress?: ReadProgress): Promise<ColumnTable> {
  const arrow = await loadArrow();
  const handle = await fs.promises.open(file, 'r');
  try {
    let reader: Awaited<ReturnType<typeof arrow.RecordBatchReader.from>>;
    try {
      reader = await arrow.RecordBatchReader.from(handle);
      await reader.open();
    } catch (error) {
      throw new DataError(`${file}: not a readable Arrow IPC file or stream (${(error as Error).message})`, file);
    }
    const ingest = startIngest(arrow, file, 'arrow', reader.schema, plan);
    // The file format knows its batch count; a stream does not, and reports no progress.
    const batches = reader.isFile() ? reader.numRecordBatches : 0;
    let done = 0;
    for await (const batch of reader) {
      ingest.add(batch);
      if (batches > 0) onProgress?.(++done, batches, 'record batches');
    }
    return ingest.finish();
  } finally {
    await handle.close();
  }
}

export async function readParquetTable(file: string, plan: StorePlan, onProgress?: ReadProgress): Promise<ColumnTable> {
  const [arrow, parquetWasm] = await Promise.all([loadArrow(), loadParquet()]);
  let parquetFile: ParquetWasm.ParquetFile;
  try {
    parquetFile = await parquetWasm.ParquetFile.fromFile(await fs.openAsBlob(file));
  } catch (error) {
    throw new DataError(`${file}: not a readable Parquet file (${String((error as Error)?.message ?? error)})`, file);
  }
  try {
    const schema = arrow.tableFromIPC(parquetFile.schema().intoIPCStream()).schema;
    const ingest = startIngest(arrow, file, 'parquet', schema, plan);
    const totalRows = parquetFile.metadata().fileMetadata().numRows();
    ingest.reserve(Number(totalRows));
    let rowsRead = 0;
    const stream = await parquetFile.stream({ batchSize: PARQUET_BATCH_ROWS });
    for await (const wasmBatch of stream as unknown as AsyncIterable<ParquetWasm.RecordBatch>) {
      // The IPC copy leaves wasm memory right away; the JS table is dropped once its cells are stored.
      const table = arrow.tableFromIPC(wasmBatch.intoIPCStream());
      for (const batch of table.batches) ingest.add(batch);
      rowsRead += table.numRows;
      onProgress?.(rowsRead, totalRows, 'rows');
    }
    return ingest.finish();
  } finally {
    parquetFile.free();
  }
}

/** How an Arrow column's values become cells. */
type CellKind = 'number' | 'date' | 'text';

function cellKindOf({ DataType }: typeof import('apache-arrow'), type: DataType): CellKind {
  if (DataType.isTimestamp(type) || DataType.isDate(type)) return 'date';
  if (DataType.isInt(type) || DataType.isFloat(type)) return 'number';
  return 'text';
}

function startIngest(arrow: typeof import('apache-arrow'), file: string, format: FileFormat, schema: ArrowSchema, plan: StorePlan) {
  const warnings: string[] = [];
  const names = checkHeader(
    file,
    schema.fields.map((f) => f.name),
    warnings,
    'schema',
  );
  const stores = makeStores(plan(names));
  const kinds = schema.fields.map((f) => cellKindOf(arrow, f.type));
  let rows = 0;
  return {
    /** The row count is known (Parquet metadata): each store is allocated once (see GrowableF64). */
    reserve(total: number): void {
      if (Number.isSafeInteger(total) && total > 0 && total < 2 ** 31) for (const store of stores) store.reserve(total);
    },
    add(batch: RecordBatch): void {
      for (let j = 0; j < stores.length; j++) {
        const column = batch.getChildAt(j);
        if (!column) throw new DataError(`${file}: record batch lacks column '${names[j]}'`, file);
        const bad = pushColumn(stores[j], kinds[j], column);
        if (bad) {
          const where = `${file}, record ${rows + bad.index} (0-based), column '${names[j]}'`;
          if (bad.problem === 'overflow') {
            throw new DataError(`${where}: ${bad.value} is beyond the range of numbers, like 'inf'`, file, rows + bad.index, names[j], { text: 'fix the value or leave it empty (null)' });
          }
          throw new DataError(`${where}: a cell longer than ${MAX_CELL_CHARS / 1024} KB; that is not a value`, file, rows + bad.index, names[j], {
            text: 'leave the column out',
          });
        }
      }
      rows += batch.numRows;
    },
    finish(): ColumnTable {
      if (rows === 0) throw new DataError(`${file}: the file has columns but no records`, file);
      for (const store of stores) store.finish();
      return {
        file,
        format,
        names,
        stores,
        rows,
        rowNumber: (r) => r,
        where: (r) => `record ${r} (0-based)`,
        warnings,
      };
    },
  };
}

/** Push a batch's column into its store; stops at the first cell that cannot be a value and says which. */
function pushColumn(store: ColumnStore, kind: CellKind, values: Iterable<unknown>): { index: number; problem: 'overflow' | 'long'; value: string } | null {
  let index = 0;
  for (const v of values) {
    if (v === null || v === undefined) store.pushMissing();
    else if (kind === 'number') {
      const x = Number(v);
      if (x === Infinity || x === -Infinity) return { index, problem: 'overflow', value: String(x) };
      store.pushNumber(x);
    } else if (kind === 'date') store.pushDate(v instanceof Date ? v.getTime() : Number(v));
    else {
      const text = String(v);
      if (text.length > MAX_CELL_CHARS) return { index, problem: 'long', value: '' };
      store.pushText(text);
    }
    index++;
  }
  return null;
}

/** Builds an apache-arrow Table from the export rows and writes it as an Arrow IPC file. */
import { Field, Float64, Int32, RecordBatch, Schema, Struct, Table, Utf8, makeBuilder, makeData, tableToIPC, type DataType } from 'apache-arrow';
import type { FileHandle } from 'node:fs/promises';
import type { CellType, RowTable } from './columns.ts';

function arrowType(type: CellType): DataType {
  if (type === 'float64') return new Float64();
  if (type === 'int32') return new Int32();
  return new Utf8();
}

/**
 * Columns are assembled from explicit Fields rather than a name-keyed object, because JavaScript
 * reorders integer-like keys and export column names are the user's.
 */
export function arrowTable(table: RowTable): Table {
  const fields = table.columns.map((c) => new Field(c.name, arrowType(c.type), true));
  const builders = fields.map((f) => makeBuilder({ type: f.type, nullValues: [null] }));
  for (const row of table.rows()) {
    for (let i = 0; i < builders.length; i++) builders[i].append(row[i]);
  }
  const children = builders.map((b) => b.finish().flush());
  const schema = new Schema(fields);
  const data = makeData({ type: new Struct(fields), length: table.rowCount, nullCount: 0, children });
  return new Table([new RecordBatch(schema, data)]);
}

export async function writeArrowFile(handle: FileHandle, table: RowTable): Promise<void> {
  await handle.write(tableToIPC(arrowTable(table), 'file'));
}

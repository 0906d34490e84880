/** Parquet (ZSTD) through parquet-wasm: Arrow table -> IPC stream -> parquet-wasm's Rust writer. */
import { tableToIPC } from 'apache-arrow';
import type { FileHandle } from 'node:fs/promises';
import { arrowTable } from './arrow.ts';
import type { RowTable } from './columns.ts';

export async function writeParquetFile(handle: FileHandle, table: RowTable): Promise<void> {
  // Loaded on first use: the Node entry compiles its WebAssembly at import time, which CSV users should not pay for.
  const parquet = await import('parquet-wasm');
  const ipc = tableToIPC(arrowTable(table), 'stream');
  const wasmTable = parquet.Table.fromIPCStream(ipc);
  const properties = new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.ZSTD).build();
  // writeParquet takes ownership of (and frees) both wasm objects.
  const bytes = parquet.writeParquet(wasmTable, properties);
  await handle.write(bytes);
}

/**
 * CSV -> column stores, streaming: the file is read in 64 KB chunks, tokenized incrementally on its UTF-8
 * bytes (csv-bytes.ts; other encodings are re-encoded chunk by chunk) and each record's cells go straight
 * into the column stores as byte ranges, so numbers and known labels never become strings. No row is kept.
 */
import * as fs from 'node:fs';
import { ByteCsvTokenizer, ByteFieldTooLongError, type ByteRecord, ByteUnclosedQuoteError } from './csv-bytes.ts';
import type { ColumnStore } from './columns.ts';
import { fieldCountError, headerNames, sniffDialect, storeRecord, type CsvDialect } from './csv-records.ts';
import { readCsvParallel } from './read-csv-parallel.ts';
import { decoderFor, invalidUtf8Error, type ChunkDecoder, type TextEncoding } from './decode.ts';
import { LineMap, makeStores, type ColumnTable, type StorePlan } from './table.ts';
import { DataError } from './types.ts';
import type { ReadProgress } from './options.ts';
import { MAX_CELL_CHARS } from './values.ts';

// 64 KB: small enough that each chunk string is allocated in the young generation and freed by the next
// scavenge (1 MB strings go to large-object space and pile up until a full GC).
const CHUNK_BYTES = 1 << 16;

/** A CSV file's column stores: read by every core when it is large enough (read-csv-parallel.ts), else here in one thread. */
export async function readCsvTable(file: string, plan: StorePlan, delimiter?: string, onProgress?: ReadProgress, encoding?: TextEncoding): Promise<ColumnTable> {
  return (await readCsvParallel(file, plan, delimiter, onProgress, encoding)) ?? readCsvInOneThread(file, plan, delimiter, onProgress, encoding);
}

async function readCsvInOneThread(file: string, plan: StorePlan, delimiter?: string, onProgress?: ReadProgress, encoding?: TextEncoding): Promise<ColumnTable> {
  const warnings: string[] = [];
  const lines = new LineMap();
  let names: string[] | null = null;
  let stores: ColumnStore[] = [];
  let rows = 0;
  let tokenizer: ByteCsvTokenizer | null = null;
  let dialect: CsvDialect | null = null;
  let decoder: ChunkDecoder | null = null;

  const onRecord = (record: ByteRecord, line: number): void => {
    if (!names) {
      names = headerNames(file, record, dialect!, warnings);
      stores = makeStores(plan(names));
      return;
    }
    if (record.count !== names.length) throw fieldCountError(file, line, record.count, names.length, dialect!.delimiter);
    storeRecord(record, stores, dialect!.decimalComma);
    lines.note(rows, line);
    rows++;
  };

  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const size = fs.statSync(file).size;
  let reserved = false;
  /**
   * Once some rows are read, reserve the stores' room for the rows the whole file should hold (bytes per
   * row so far, plus a quarter): each column is then allocated once, and never merged or copied.
   */
  const reserve = (bytesRead: number) => {
    if (reserved || rows < 100 || bytesRead <= 0) return;
    reserved = true;
    // A row takes at least 2 bytes (a cell and a line break): never reserve past size / 2 rows.
    const expected = Math.min(Math.ceil(((rows * size) / bytesRead) * 1.25) + 65536, Math.ceil(size / 2) + 2, 2 ** 31 - 1);
    for (const store of stores) store.reserve(expected);
  };
  const feed = (piece: { bytes: Buffer; bad?: number[] }) => {
    let chunk = piece.bytes;
    if (!tokenizer && chunk.length > 0) {
      // A byte order mark the decoder kept (a UTF-8 BOM read as Latin-1, a UTF-16 one re-encoded).
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      dialect = sniffDialect(file, chunk, delimiter);
      tokenizer = new ByteCsvTokenizer(dialect.delimiter, onRecord, MAX_CELL_CHARS);
    }
    if (chunk.length > 0) tokenizer!.push(chunk);
    if (piece.bad) throw invalidUtf8Error(file, tokenizer?.currentLine ?? 1, piece.bad);
  };
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      decoder ??= decoderFor(file, bytes, encoding);
      feed(decoder.decodeBytes(bytes));
      reserve(stream.bytesRead);
      onProgress?.(stream.bytesRead, size, 'bytes');
    }
    if (decoder) feed(decoder.endBytes());
    (tokenizer as ByteCsvTokenizer | null)?.end();
  } catch (error) {
    if (error instanceof ByteUnclosedQuoteError) {
      throw new DataError(`${file}, line ${error.line}: a quoted field starting there is never closed; close the quote or escape quotes inside it as ""`, file, error.line);
    }
    if (error instanceof ByteFieldTooLongError) {
      const column = names?.[error.field];
      throw new DataError(
        `${file}, line ${error.line}${column ? `, column '${column}'` : `, field ${error.field + 1}`}: a cell longer than ${error.limit / 1024} KB; it is not a value but a broken file (an unclosed quote, pasted binary data)`,
        file,
        error.line,
        column,
        { text: 'check the quoting on that line, or leave the column out' },
      );
    }
    throw error;
  } finally {
    stream.destroy();
  }
  if (!names) throw new DataError(`${file}: the file is empty; it needs a header line and at least one data row`, file);
  if (rows === 0) {
    throw new DataError(`${file}: the file has a header but no data rows`, file, 1);
  }
  for (const store of stores) store.finish();
  const header: string[] = names;
  return {
    file,
    format: 'csv',
    names: header,
    stores,
    rows,
    rowNumber: (r) => lines.lineOf(r),
    where: (r) => `line ${lines.lineOf(r)}`,
    warnings,
    delimiter: (dialect as CsvDialect | null)?.delimiter,
  };
}

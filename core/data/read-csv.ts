/**
 * CSV -> column stores, streaming: the file is read in 64 KB chunks, tokenized incrementally and each
 * record's cells go straight into the column stores. No row is kept.
 */
import * as fs from 'node:fs';
import { CsvTokenizer, sniffDelimiter, UnclosedQuoteError } from './csv.ts';
import type { ColumnStore } from './columns.ts';
import { checkHeader, LineMap, makeStores, type ColumnTable, type StorePlan } from './table.ts';
import { DataError } from './types.ts';
import type { ReadProgress } from './options.ts';

// 64 KB: small enough that each chunk string is allocated in the young generation and freed by the next
// scavenge (1 MB strings go to large-object space and pile up until a full GC).
const CHUNK_BYTES = 1 << 16;

export async function readCsvTable(file: string, plan: StorePlan, delimiter?: string, onProgress?: ReadProgress): Promise<ColumnTable> {
  const warnings: string[] = [];
  const lines = new LineMap();
  let names: string[] | null = null;
  let stores: ColumnStore[] = [];
  let rows = 0;
  let tokenizer: CsvTokenizer | null = null;
  let chosen = delimiter;

  const onRecord = (fields: string[], line: number): void => {
    if (!names) {
      names = checkHeader(file, fields, warnings, 'line 1');
      stores = makeStores(plan(names));
      return;
    }
    if (fields.length !== names.length) {
      throw new DataError(
        `${file}, line ${line}: ${fields.length} fields but the header has ${names.length} ` + `(delimiter ${JSON.stringify(chosen)}); check quoting on that line, or pass the delimiter explicitly`,
        file,
        line,
      );
    }
    for (let j = 0; j < stores.length; j++) stores[j].pushText(fields[j]);
    lines.note(rows, line);
    rows++;
  };

  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  const size = onProgress ? fs.statSync(file).size : 0;
  try {
    for await (const piece of stream) {
      let chunk = piece as string;
      if (!tokenizer) {
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1); // UTF-8 byte order mark
        chosen ??= /\.tsv$/i.test(file) ? '\t' : sniffDelimiter(chunk.slice(0, 65536));
        tokenizer = new CsvTokenizer(chosen, onRecord);
      }
      tokenizer.push(chunk);
      onProgress?.(stream.bytesRead, size, 'bytes');
    }
    tokenizer?.end();
  } catch (error) {
    if (error instanceof UnclosedQuoteError) {
      throw new DataError(`${file}, line ${error.line}: a quoted field starting there is never closed; close the quote or escape quotes inside it as ""`, file, error.line);
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
    delimiter: chosen,
  };
}

/**
 * The CSV tokenizer on UTF-8 bytes: the reader's fast path. Same rules as csv.ts's CsvTokenizer (RFC 4180
 * quotes, "" escapes, newlines inside quotes, CR/LF/CRLF, blank lines skipped, text after a closing quote
 * kept) and the same line numbers, but a record's cells are handed over as byte ranges of the chunk, so
 * no string is built for a cell unless its store wants one.
 *
 * Chunks are scanned in place. A record cut by a chunk's end is kept (its bytes only) and scanned again
 * from its start once the next chunk arrives, so there is no state inside a record to carry across chunks.
 */

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** A record's cells: cell k is bytes [start[k], end[k]) of `scratch` when inScratch[k], else of `bytes`. */
export interface ByteRecord {
  count: number;
  bytes: Buffer;
  start: Int32Array;
  end: Int32Array;
  inScratch: Uint8Array;
  /** Cells that differ from the file's bytes (quotes unescaped, text after a closing quote joined). */
  scratch: Buffer;
}

/** Called once per record with the 1-based line it starts on; `record` is reused: copy what you keep. */
export type ByteRecordHandler = (record: ByteRecord, line: number) => void;

/** A cell longer than the limit (`field` is its 0-based index in the record). */
export class ByteFieldTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly field: number,
    readonly limit: number,
  ) {
    super(`field ${field + 1} on line ${line} is longer than ${limit} characters`);
  }
}

/** The input ended inside a quoted field that started on `line`. */
export class ByteUnclosedQuoteError extends Error {
  constructor(readonly line: number) {
    super(`a quoted field starting on line ${line} is never closed`);
  }
}

/** UTF-16 code units of UTF-8 bytes (4-byte sequences are surrogate pairs): the limit is in characters. */
function utf16Length(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1;
  }
  return n;
}

export class ByteCsvTokenizer {
  private readonly delimiter: number;
  private readonly record: ByteRecord;
  /** The unscanned start of a record cut by the last chunk's end, and the line it starts on. */
  private rest: Buffer | null = null;
  private line = 1;
  /** Chunks held back while a long cut record waits for enough bytes to be worth scanning again. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /**
   * `maxField`: the longest cell accepted, in UTF-16 code units (as CsvTokenizer); a longer one throws
   * ByteFieldTooLongError once read (a runaway quote does not grow a record past it).
   */
  constructor(
    delimiter: string,
    private readonly onRecord: ByteRecordHandler,
    private readonly maxField = Number.POSITIVE_INFINITY,
  ) {
    const d = delimiter.charCodeAt(0);
    if (delimiter.length !== 1 || d === QUOTE || d === LF || d === CR || d > 0x7f) {
      throw new Error(`delimiter must be one ASCII character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
    }
    this.delimiter = d;
    this.record = { count: 0, bytes: Buffer.alloc(0), start: new Int32Array(16), end: new Int32Array(16), inScratch: new Uint8Array(16), scratch: Buffer.allocUnsafe(1024) };
  }

  /** The line the bytes scanned so far end on (1-based); a cut record counts up to its start. */
  get currentLine(): number {
    if (this.pending.length > 0) this.flushPending();
    return this.line;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.rest && this.rest.length > chunk.length) {
      // A cut record longer than a chunk: wait until as many new bytes as it holds have come, so a long
      // record is scanned a few times, not once per chunk (a runaway quote still stops at the cell limit
      // within twice its bytes).
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= this.rest.length) this.flushPending();
      return;
    }
    const bytes = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    this.keepCut(bytes, this.scan(bytes, false));
  }

  /**
   * For a caller that keeps the cut record itself (and so copies nothing), instead of push/end: scan
   * `bytes`, which start at a record's start, and return where the record cut by their end starts
   * (bytes.length when none is). Pass those bytes again at the start of the next call, followed by the
   * next ones. `final`: nothing follows (a quote open at the end is unclosed).
   */
  scanBlock(bytes: Buffer, final: boolean): number {
    return this.scan(bytes, final);
  }

  /** The input is over: the last record (if any) is handed over; an open quote throws ByteUnclosedQuoteError. */
  end(): void {
    if (this.pending.length > 0) this.flushPending();
    const bytes = this.rest;
    this.rest = null;
    if (bytes) this.scan(bytes, true);
  }

  private flushPending(): void {
    const bytes = Buffer.concat([this.rest ?? Buffer.alloc(0), ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
    this.rest = null;
    this.keepCut(bytes, this.scan(bytes, false));
  }

  private keepCut(bytes: Buffer, cut: number): void {
    if (cut < bytes.length) this.rest = Buffer.from(bytes.subarray(cut));
  }

  /**
   * Scan `bytes` from the start of a record. `final`: the input ends here (a record cut at the end is
   * complete; a quote open at the end is unclosed). Returns where a record cut by the end starts.
   */
  private scan(bytes: Buffer, final: boolean): number {
    const d = this.delimiter;
    const n = bytes.length;
    const record = this.record;
    record.bytes = bytes;
    let line = this.line;
    let i = 0;
    // Start of the record being scanned and its line, to keep it when the chunk cuts it.
    let recordAt = 0;
    let recordLine = line;
    record_loop: while (i < n) {
      // At a record's start: blank lines are skipped.
      const c0 = bytes[i];
      if (c0 === LF || c0 === CR) {
        if (c0 === CR) {
          if (i + 1 >= n && !final) break; // CR LF may be cut: look again with the next chunk
          if (i + 1 < n && bytes[i + 1] === LF) i++;
        }
        i++;
        line++;
        recordAt = i;
        recordLine = line;
        continue;
      }
      recordAt = i;
      recordLine = line;
      record.count = 0;
      let scratchUsed = 0;
      // Fields of this record.
      for (;;) {
        let cellStart: number;
        let cellEnd: number;
        let inScratch = 0;
        if (i < n && bytes[i] === QUOTE) {
          const quotedLine = line;
          let from = i + 1;
          let at = from;
          let escaped = false;
          let segmentsStart = scratchUsed;
          let lastCr = false;
          for (;;) {
            const q = bytes.indexOf(QUOTE, at);
            const stop = q < 0 ? n : q;
            for (let k = at; k < stop; k++) {
              const c = bytes[k];
              if (c === CR) line++;
              else if (c === LF && !lastCr) line++;
              lastCr = c === CR;
            }
            if (stop - from + (escaped ? scratchUsed - segmentsStart : 0) > this.maxField) this.tooLong(bytes, from, stop, segmentsStart, scratchUsed, escaped, recordLine, record.count);
            if (q < 0 || (q + 1 >= n && !final)) {
              if (!final) break record_loop; // the chunk ends inside the quotes, or on a quote that may be ""
              throw new ByteUnclosedQuoteError(quotedLine);
            }
            if (q + 1 < n && bytes[q + 1] === QUOTE) {
              // "" inside quotes: one quote; the cell is built in scratch from here on.
              if (!escaped) {
                escaped = true;
                segmentsStart = scratchUsed;
              }
              scratchUsed = this.appendScratch(bytes, from, q + 1, scratchUsed);
              at = q + 2;
              from = at;
              continue;
            }
            // The closing quote.
            i = q + 1;
            if (escaped) scratchUsed = this.appendScratch(bytes, from, q, scratchUsed);
            break;
          }
          // Text after the closing quote, up to the delimiter, is kept (leniently, as CsvTokenizer does).
          let j = i;
          while (j < n && bytes[j] !== d && bytes[j] !== LF && bytes[j] !== CR) j++;
          if (j === n && !final) break record_loop;
          if (j > i) {
            if (!escaped) {
              escaped = true;
              segmentsStart = scratchUsed;
              scratchUsed = this.appendScratch(bytes, from, i - 1, scratchUsed);
            }
            scratchUsed = this.appendScratch(bytes, i, j, scratchUsed);
            i = j;
          }
          if (escaped) {
            inScratch = 1;
            cellStart = segmentsStart;
            cellEnd = scratchUsed;
          } else {
            cellStart = from;
            cellEnd = i - 1;
          }
          if (cellEnd - cellStart > this.maxField) this.tooLong(inScratch ? record.scratch : bytes, cellStart, cellEnd, 0, 0, false, recordLine, record.count);
        } else {
          cellStart = i;
          while (i < n) {
            const c = bytes[i];
            if (c === d || c === LF || c === CR) break;
            i++;
          }
          cellEnd = i;
          if (cellEnd - cellStart > this.maxField) this.tooLong(bytes, cellStart, cellEnd, 0, 0, false, recordLine, record.count);
          if (i === n && !final) break record_loop;
        }
        this.addCell(cellStart, cellEnd, inScratch);
        if (i >= n) {
          // The input's last record, without a final line break.
          this.onRecord(record, recordLine);
          recordAt = n;
          break record_loop;
        }
        const c = bytes[i];
        if (c === d) {
          i++;
          continue;
        }
        // A line break ends the record; CRLF counts once.
        if (c === CR) {
          if (i + 1 >= n && !final) break record_loop;
          if (i + 1 < n && bytes[i + 1] === LF) i++;
        }
        i++;
        this.onRecord(record, recordLine);
        line++;
        recordAt = i;
        recordLine = line;
        break;
      }
    }
    this.line = recordAt < n ? recordLine : line;
    return recordAt;
  }

  private addCell(start: number, end: number, inScratch: number): void {
    const r = this.record;
    const k = r.count;
    if (k === r.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const out = make(a.length * 2);
        out.set(a);
        return out;
      };
      r.start = grow(r.start, (m) => new Int32Array(m));
      r.end = grow(r.end, (m) => new Int32Array(m));
      r.inScratch = grow(r.inScratch, (m) => new Uint8Array(m));
    }
    r.start[k] = start;
    r.end[k] = end;
    r.inScratch[k] = inScratch;
    r.count = k + 1;
  }

  private appendScratch(bytes: Buffer, from: number, to: number, used: number): number {
    const r = this.record;
    const need = used + (to - from);
    if (need > r.scratch.length) {
      const scratch = Buffer.allocUnsafe(Math.max(need, r.scratch.length * 2));
      r.scratch.copy(scratch, 0, 0, used);
      r.scratch = scratch;
    }
    bytes.copy(r.scratch, used, from, to);
    return need;
  }

  /** Throw when a cell's text so far is over the limit in characters (its bytes only bound that). */
  private tooLong(bytes: Uint8Array, from: number, to: number, scratchFrom: number, scratchTo: number, escaped: boolean, line: number, field: number): void {
    let length = utf16Length(bytes, from, to);
    if (escaped) length += utf16Length(this.record.scratch, scratchFrom, scratchTo);
    if (length > this.maxField) throw new ByteFieldTooLongError(line, field, this.maxField);
  }
}

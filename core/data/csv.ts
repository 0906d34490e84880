/**
 * An incremental CSV tokenizer (RFC 4180 quoting: fields in double quotes may hold delimiters, quotes
 * written "" and newlines) and delimiter sniffing. Text is fed in chunks of any size, so a file of any
 * length is parsed in constant memory; each record is handed over as it completes.
 */

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/** Called once per record, with the 1-based line the record starts on. `fields` is reused: copy what you keep. */
export type RecordHandler = (fields: string[], line: number) => void;

/** A field longer than the tokenizer's limit (`field` is its 0-based index in the record). */
export class FieldTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly field: number,
    readonly limit: number,
  ) {
    super(`field ${field + 1} on line ${line} is longer than ${limit} characters`);
  }
}

/** A field opened with a quote never closed: the file ended inside it. */
export class UnclosedQuoteError extends Error {
  constructor(readonly line: number) {
    super(`a quoted field starting on line ${line} is never closed`);
  }
}

// biome-ignore lint/suspicious/noConstEnum: file-local, so the tokenizer's hot loop compares inlined numbers
const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** Saw a quote inside a quoted field: either an escaped quote ("") or the field's end. */
  QuoteInQuoted,
  /** After a quoted field's closing quote, before the delimiter (stray text is kept, leniently). */
  AfterQuoted,
}

export class CsvTokenizer {
  private readonly delimiter: number;
  private state = State.FieldStart;
  private field = '';
  private fields: string[] = [];
  /** The current record has content (a blank line has none and is skipped). */
  private recordStarted = false;
  private line = 1;
  private recordLine = 1;
  private quotedLine = 1;
  /** The last chunk ended on CR: a LF starting the next chunk belongs to the same line break. */
  private skipLf = false;
  /** The last character seen inside a quoted field was CR. */
  private quotedCr = false;

  /**
   * `maxField`: the longest field accepted, in UTF-16 code units; a longer one throws FieldTooLongError
   * as soon as the text read exceeds it (a single 1 GB "cell" never becomes one string).
   */
  constructor(
    delimiter: string,
    private readonly onRecord: RecordHandler,
    private readonly maxField = Number.POSITIVE_INFINITY,
  ) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new Error(`delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
    }
    this.delimiter = delimiter.charCodeAt(0);
  }

  push(chunk: string): void {
    const n = chunk.length;
    const d = this.delimiter;
    let i = 0;
    if (this.skipLf && n > 0) {
      this.skipLf = false;
      if (chunk.charCodeAt(0) === LF && this.state !== State.Quoted) i = 1;
    }
    while (i < n) {
      switch (this.state) {
        case State.FieldStart:
        case State.Unquoted: {
          if (this.state === State.FieldStart && chunk.charCodeAt(i) === QUOTE) {
            this.startRecordIfNeeded();
            this.state = State.Quoted;
            this.quotedLine = this.line;
            this.quotedCr = false;
            i++;
            break;
          }
          const start = i;
          let c = 0;
          while (i < n) {
            c = chunk.charCodeAt(i);
            if (c === d || c === LF || c === CR) break;
            i++;
          }
          if (i > start) {
            this.startRecordIfNeeded();
            this.field += chunk.slice(start, i);
            if (this.field.length > this.maxField) throw new FieldTooLongError(this.recordLine, this.fields.length, this.maxField);
          }
          if (i === n) {
            this.state = this.field.length > 0 || this.state === State.Unquoted ? State.Unquoted : State.FieldStart;
            break;
          }
          i = this.endOfField(chunk, i, c);
          break;
        }
        case State.Quoted: {
          const q = chunk.indexOf('"', i);
          const end = q < 0 ? n : q;
          this.countLines(chunk, i, end);
          this.field += chunk.slice(i, end);
          if (this.field.length > this.maxField) throw new FieldTooLongError(this.recordLine, this.fields.length, this.maxField);
          i = end;
          if (q >= 0) {
            this.state = State.QuoteInQuoted;
            i++;
          }
          break;
        }
        case State.QuoteInQuoted: {
          if (chunk.charCodeAt(i) === QUOTE) {
            this.field += '"';
            this.state = State.Quoted;
            i++;
          } else {
            this.state = State.AfterQuoted;
          }
          break;
        }
        case State.AfterQuoted: {
          const c = chunk.charCodeAt(i);
          if (c === d || c === LF || c === CR) {
            i = this.endOfField(chunk, i, c);
          } else {
            this.field += chunk[i];
            i++;
          }
          break;
        }
      }
    }
  }

  /** The line the text pushed so far ends on (1-based). */
  get currentLine(): number {
    return this.line;
  }

  /** Flush the last record. Throws UnclosedQuoteError when the input ended inside a quoted field. */
  end(): void {
    if (this.state === State.Quoted) throw new UnclosedQuoteError(this.quotedLine);
    if (this.recordStarted) this.emit();
  }

  /** Handle the delimiter or line break `c` at `i`; returns the next position. */
  private endOfField(chunk: string, i: number, c: number): number {
    if (c === this.delimiter) {
      this.startRecordIfNeeded();
      this.fields.push(this.field);
      this.field = '';
      this.state = State.FieldStart;
      return i + 1;
    }
    // A line break ends the record; CRLF counts once.
    if (this.recordStarted) this.emit();
    this.state = State.FieldStart;
    this.line++;
    if (c === CR) {
      if (i + 1 < chunk.length) return chunk.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
      this.skipLf = true;
    }
    return i + 1;
  }

  private emit(): void {
    this.fields.push(this.field);
    this.onRecord(this.fields, this.recordLine);
    this.fields.length = 0;
    this.field = '';
    this.recordStarted = false;
  }

  private startRecordIfNeeded(): void {
    if (!this.recordStarted) {
      this.recordStarted = true;
      this.recordLine = this.line;
    }
  }

  /** Count line breaks inside a quoted field (CR, LF and CRLF each count once, even across chunks). */
  private countLines(chunk: string, from: number, to: number): void {
    for (let j = from; j < to; j++) {
      const c = chunk.charCodeAt(j);
      if (c === CR) this.line++;
      else if (c === LF && !this.quotedCr) this.line++;
      this.quotedCr = c === CR;
    }
  }
}

/** Delimiters tried by sniffing, in order of preference on ties. */
export const SNIFF_CANDIDATES = [',', ';', '\t', '|'];

/**
 * Pick the delimiter that splits the header and the first records of `sample` into the same number of
 * fields (more than one), preferring the one giving the most fields. Falls back to ',' (a one-column file).
 */
export function sniffDelimiter(sample: string): string {
  // Only whole lines: the sample may end mid-record.
  const lastBreak = Math.max(sample.lastIndexOf('\n'), sample.lastIndexOf('\r'));
  const text = lastBreak > 0 ? sample.slice(0, lastBreak) : sample;
  let best = ',';
  let bestScore = -1;
  for (const candidate of SNIFF_CANDIDATES) {
    const counts: number[] = [];
    const tokenizer = new CsvTokenizer(candidate, (fields) => {
      if (counts.length < 50) counts.push(fields.length);
    });
    try {
      tokenizer.push(text);
      tokenizer.end();
    } catch {
      // The sample cut a quoted field: the records before it still count.
    }
    if (counts.length === 0 || counts[0] < 2) continue;
    const consistent = counts.filter((c) => c === counts[0]).length / counts.length;
    // Consistency first (a real delimiter gives every record the header's width), then width.
    const score = Math.round(consistent * 100) * 1000 + Math.min(counts[0], 999);
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

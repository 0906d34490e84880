/**
 * Column stores: what import keeps of a file while reading it. One typed array per column (numbers as
 * Float64, labels as Int32 codes into an interned label list), never row objects, so memory grows with
 * rows x stored columns x 4-12 bytes rather than with the text of the file.
 */
import { detach, isMissingText, parseIsoDate, parseNumber } from './values.ts';

/**
 * What a store keeps, decided from the header before any row is read:
 * - auto: inference pending; keeps numbers and labels (labels of an all-numeric column are dropped once it
 *   has more than LABEL_CAP distinct values: it is continuous then, and the labels would only cost memory).
 * - number: a declared continuous column: numbers only.
 * - label: a declared categorical or id column: labels only.
 * - time: numbers (plain numbers, or ISO dates as epoch ms) and labels (to give dates back as read).
 * - count: an ignored column: only counts of numbers, dates, text and missing cells, to name its kind.
 */
export type StoreMode = 'auto' | 'number' | 'label' | 'time' | 'count';

/** More distinct numbers than this, with no text, and an auto column stops keeping labels. */
export const LABEL_CAP = 10_000;

/** Codes that are not label indexes. */
export const MISSING_CODE = -1;
export const NUMBER_CODE = -2;

/** A Float64Array that grows by doubling. */
export class GrowableF64 {
  data = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** An Int32Array that grows by doubling. */
export class GrowableI32 {
  data = new Int32Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Where a cell came from, for error messages. */
export interface CellRef {
  row: number;
  value: string;
}

/** One column's values, appended cell by cell. `row` indexes are 0-based data rows. */
export class ColumnStore {
  readonly mode: StoreMode;
  rows = 0;
  /** Cell counts by what the cell held. */
  missing = 0;
  numeric = 0;
  dates = 0;
  text = 0;
  /** First cell of each sort, to name it in a message. */
  firstText?: CellRef;
  firstDate?: CellRef;
  firstNumber?: CellRef;
  private numberBuf: GrowableF64 | null;
  private codeBuf: GrowableI32 | null;
  /** Interned labels in first-seen order; `labelCounts[i]` counts cells holding label i. */
  labels: string[] = [];
  labelCounts: number[] = [];
  private labelIndex = new Map<string, number>();
  /** True once an auto column stopped keeping labels (too many distinct numbers). */
  labelsDropped = false;

  constructor(mode: StoreMode) {
    this.mode = mode;
    this.numberBuf = mode === 'auto' || mode === 'number' || mode === 'time' ? new GrowableF64() : null;
    this.codeBuf = mode === 'auto' || mode === 'label' || mode === 'time' ? new GrowableI32() : null;
  }

  /** Numbers per row: NaN where missing or not a number (ISO dates hold epoch ms). Null if not kept. */
  get numbers(): Float64Array | null {
    return this.numberBuf ? this.numberBuf.view() : null;
  }

  /** Label code per row (MISSING_CODE where missing, NUMBER_CODE for a time column's numbers). Null if not kept. */
  get codes(): Int32Array | null {
    return this.codeBuf ? this.codeBuf.view() : null;
  }

  /** A cell of text, as read from CSV. */
  pushText(text: string): void {
    if (isMissingText(text)) return this.pushMissing();
    if (this.mode === 'label') return this.pushLabel(text, NaN);
    const x = parseNumber(text);
    if (!Number.isNaN(x)) return this.pushParsedNumber(x, text);
    const ms = parseIsoDate(text);
    if (!Number.isNaN(ms)) {
      this.dates++;
      if (!this.firstDate) this.firstDate = { row: this.rows, value: detach(text) };
      return this.pushLabel(text, ms);
    }
    this.text++;
    if (!this.firstText) this.firstText = { row: this.rows, value: detach(text) };
    this.pushLabel(text, NaN);
  }

  /** A typed number, as read from Parquet/Arrow. */
  pushNumber(x: number): void {
    if (Number.isNaN(x)) return this.pushMissing();
    this.pushParsedNumber(x, this.codeBuf ? String(x) : '');
  }

  /** A typed date/timestamp, as read from Parquet/Arrow. */
  pushDate(ms: number): void {
    if (Number.isNaN(ms)) return this.pushMissing();
    const text = new Date(ms).toISOString();
    this.dates++;
    if (!this.firstDate) this.firstDate = { row: this.rows, value: text };
    this.pushLabel(text, ms);
  }

  pushMissing(): void {
    this.missing++;
    this.numberBuf?.push(NaN);
    this.codeBuf?.push(MISSING_CODE);
    this.rows++;
  }

  private pushParsedNumber(x: number, text: string): void {
    this.numeric++;
    if (!this.firstNumber) this.firstNumber = { row: this.rows, value: detach(text) };
    if (this.mode === 'label') return this.pushLabel(text, x);
    this.numberBuf?.push(x);
    if (this.codeBuf && this.mode === 'time') {
      // A numeric time stamp is given back as a number: no label needed.
      this.codeBuf.push(NUMBER_CODE);
    } else if (this.codeBuf) {
      this.codeBuf.push(this.intern(text));
      if (this.mode === 'auto' && this.labels.length > LABEL_CAP && this.text === 0 && this.dates === 0) {
        this.dropLabels();
      }
    }
    this.rows++;
  }

  /** A label cell; `x` is its number (NaN for text, epoch ms for dates). */
  private pushLabel(text: string, x: number): void {
    this.numberBuf?.push(x);
    this.codeBuf?.push(this.intern(text));
    this.rows++;
  }

  private intern(text: string): number {
    let code = this.labelIndex.get(text);
    if (code === undefined) {
      code = this.labels.length;
      const own = detach(text);
      this.labelIndex.set(own, code);
      this.labels.push(own);
      this.labelCounts.push(0);
    }
    this.labelCounts[code]++;
    return code;
  }

  private dropLabels(): void {
    this.codeBuf = null;
    this.labels = [];
    this.labelCounts = [];
    this.labelIndex = new Map();
    this.labelsDropped = true;
  }

  /** True when the cell at `row` is missing. */
  isMissing(row: number): boolean {
    if (this.codeBuf) return this.codeBuf.data[row] === MISSING_CODE;
    return Number.isNaN(this.numberBuf!.data[row]);
  }

  /** The label at `row` ('' when missing); numbers are given as written in the file. */
  labelAt(row: number): string {
    if (this.codeBuf) {
      const code = this.codeBuf.data[row];
      if (code >= 0) return this.labels[code];
      if (code === MISSING_CODE) return '';
    }
    const x = this.numberBuf!.data[row];
    return Number.isNaN(x) ? '' : String(x);
  }

  /** The number at `row` (NaN when missing or not a number). */
  numberAt(row: number): number {
    return this.numberBuf ? this.numberBuf.data[row] : parseNumber(this.labelAt(row));
  }

  /** Count of distinct non-missing values. */
  distinct(): number {
    if (this.codeBuf && this.mode !== 'time') return this.labels.length;
    if (!this.numberBuf) return 0;
    const sorted = this.numberBuf.view().filter((x) => !Number.isNaN(x)).sort();
    let n = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) n++;
    return n;
  }
}

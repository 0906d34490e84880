/**
 * One column's store from the stores of consecutive stretches of a file read by several threads
 * (read-csv-parallel.ts): counts summed, labels merged in first-seen order and codes renumbered to match,
 * and the caps an automatic column applies while reading (columns.ts: TEXT_SETTLES, LABEL_CAP,
 * TEXT_LABEL_CAP) decided as one reader going through the whole file decides them. Where a stretch let go
 * of something that reader would have kept, there is nothing to merge from: null, and the caller reads
 * the file in one thread.
 */
import { ColumnStore, LABEL_CAP, MISSING_CODE, NUMBER_CODE, TEXT_LABEL_CAP, TEXT_SETTLES, type CellRef, type CodeArray, type StoreMode, type StorePiece, type StoreSlots } from './columns.ts';

/** Where a stretch's rows are: from `slotRow` in the column's slots (as written), to go to `row` (after the stretches before it). */
export interface PiecePlace {
  slotRow: number;
  row: number;
}

/** A column's labels merged across pieces, each piece's codes mapped to the merged ones; or how they were dropped. */
interface MergedLabels {
  labels: string[];
  labelCounts: number[];
  /** Per piece: its code k is merged code maps[p][k]. */
  maps: Int32Array[];
  dropped: 'distinct numbers' | 'text labels' | null;
}

/**
 * The store of one column from its pieces in file order. `slots` are the column's whole shared arrays
 * (pieces wrote at their `slotRow`); `rows` is the sum of the pieces' rows. Null: not mergeable.
 */
export function mergeStorePieces(mode: StoreMode, pieces: StorePiece[], places: PiecePlace[], rows: number, slots: StoreSlots): ColumnStore | null {
  const total = (count: (p: StorePiece) => number) => pieces.reduce((n, p) => n + count(p), 0);
  const first = (cell: (p: StorePiece) => CellRef | undefined): CellRef | undefined => {
    for (let p = 0; p < pieces.length; p++) {
      const ref = cell(pieces[p]);
      if (ref) return { row: ref.row + places[p].row, value: ref.value };
    }
    return undefined;
  };

  let numbers: Float64Array | null = null;
  if (mode === 'number' || mode === 'time' || (mode === 'auto' && numbersKept(pieces))) {
    // A piece that let its numbers go (plainly text there) had none to keep if it held no number or date.
    if (!slots.numbers || !pieces.every((p) => p.numbersKept || p.numeric + p.dates === 0)) return null;
    numbers = closeUp(slots.numbers, pieces, places, rows);
    pieces.forEach((p, k) => {
      if (!p.numbersKept) numbers!.fill(Number.NaN, places[k].row, places[k].row + p.rows);
    });
  }

  let merged: MergedLabels = { labels: [], labelCounts: [], maps: [], dropped: null };
  let codes: CodeArray | null = null;
  if (mode === 'auto' || mode === 'label' || mode === 'time') {
    const labels = mergeLabels(mode, pieces);
    if (!labels) return null;
    merged = labels;
    const anyCodes = pieces.some((p) => p.codes !== null);
    if (!merged.dropped && anyCodes) {
      // Time columns keep codes from their first label on; pieces without any get them from their numbers.
      if (mode !== 'time' && !pieces.every((p) => p.codes !== null)) return null;
      codes = renumber(pieces, places, rows, merged, slots.codes, numbers);
    }
  }

  return ColumnStore.merged(mode, {
    rows,
    missing: total((p) => p.missing),
    numeric: total((p) => p.numeric),
    dates: total((p) => p.dates),
    text: total((p) => p.text),
    firstText: first((p) => p.firstText),
    firstDate: first((p) => p.firstDate),
    firstNumber: first((p) => p.firstNumber),
    maxDecimals: pieces.reduce((m, p) => Math.max(m, p.maxDecimals), 0),
    labels: merged.labels,
    labelCounts: merged.labelCounts,
    labelsDropped: merged.dropped !== null,
    tooManyLabels: merged.dropped === 'text labels',
    numbers,
    codes,
  });
}

/** An automatic column keeps numbers unless TEXT_SETTLES text cells come before its first number or date. */
function numbersKept(pieces: StorePiece[]): boolean {
  let text = 0;
  for (const p of pieces) {
    if (p.numeric + p.dates > 0) return text + p.textBeforeValue < TEXT_SETTLES;
    text += p.text;
  }
  return text < TEXT_SETTLES;
}

/** Move each piece's rows from its slot to its place, in order (places never pass slots), and view the column. */
function closeUp(column: Float64Array, pieces: StorePiece[], places: PiecePlace[], rows: number): Float64Array {
  for (let p = 0; p < pieces.length; p++) {
    const { slotRow, row } = places[p];
    if (slotRow !== row && pieces[p].rows > 0) column.copyWithin(row, slotRow, slotRow + pieces[p].rows);
  }
  return column.subarray(0, rows);
}

/**
 * Labels in first-seen order across pieces. For an automatic column, the caps: past LABEL_CAP distinct
 * labels before its first text or date cell it lets its labels go (a continuous column), past
 * TEXT_LABEL_CAP before its first date too (free text). Each piece says how many of its labels came
 * before its own first text and date cells, which places those cells among the merged labels.
 */
function mergeLabels(mode: StoreMode, pieces: StorePiece[]): MergedLabels | null {
  const index = new Map<string, number>();
  const labels: string[] = [];
  const maps: Int32Array[] = [];
  const auto = mode === 'auto';
  let sawText = false;
  let sawDate = false;
  for (const p of pieces) {
    if (p.labelsDropped) {
      // The piece let its labels go. With nothing before it, as the whole-file reader did; else that
      // reader did too when nothing before the piece stopped it.
      if (labels.length === 0 && !sawText) return dropped(p.tooManyLabels ? 'text labels' : 'distinct numbers');
      if (!p.tooManyLabels && !sawText) return dropped('distinct numbers');
      if (p.tooManyLabels && sawText && !sawDate) return dropped('text labels');
      return null;
    }
    const map = new Int32Array(p.labels.length);
    let k = 0;
    const addUpTo = (end: number) => {
      for (; k < end; k++) {
        const label = p.labels[k];
        let code = index.get(label);
        if (code === undefined) {
          code = labels.length;
          index.set(label, code);
          labels.push(label);
        }
        map[k] = code;
      }
    };
    if (auto && !sawText) {
      addUpTo(p.labelsBeforeText < 0 ? p.labels.length : p.labelsBeforeText);
      if (labels.length > LABEL_CAP) return dropped('distinct numbers');
    }
    if (auto && !sawDate) {
      addUpTo(p.labelsBeforeDate < 0 ? p.labels.length : Math.max(k, p.labelsBeforeDate));
      if (labels.length > TEXT_LABEL_CAP) return dropped('text labels');
    }
    addUpTo(p.labels.length);
    maps.push(map);
    sawText ||= p.text + p.dates > 0;
    sawDate ||= p.dates > 0;
  }
  const labelCounts = new Array<number>(labels.length).fill(0);
  pieces.forEach((p, i) => {
    for (let k = 0; k < p.labels.length; k++) labelCounts[maps[i][k]] += p.labelCounts[k];
  });
  return { labels, labelCounts, maps, dropped: null };
}

const dropped = (why: MergedLabels['dropped']): MergedLabels => ({ labels: [], labelCounts: [], maps: [], dropped: why });

/**
 * The merged codes: each piece's codes mapped to the merged labels, at the piece's place. In the slot
 * itself when every piece's codes are there and its type holds the merged labels (no copy); else in a new
 * array of the narrowest type. A time column's piece without codes gets them from its numbers.
 */
function renumber(pieces: StorePiece[], places: PiecePlace[], rows: number, merged: MergedLabels, slot: Int8Array | Int16Array | undefined, numbers: Float64Array | null): CodeArray {
  const count = merged.labels.length;
  const limit = (codes: CodeArray) => (codes instanceof Int8Array ? 127 : codes instanceof Int16Array ? 32767 : 2 ** 31 - 1);
  const inPlace = slot !== undefined && count <= limit(slot) && pieces.every((p) => p.codes === 'slot' || p.codes === null);
  const target: CodeArray = inPlace ? slot : count <= 127 ? new Int8Array(rows) : count <= 32767 ? new Int16Array(rows) : new Int32Array(rows);
  for (let p = 0; p < pieces.length; p++) {
    const piece = pieces[p];
    const { slotRow, row } = places[p];
    const n = piece.rows;
    if (piece.codes === null) {
      for (let i = 0; i < n; i++) target[row + i] = Number.isNaN(numbers![row + i]) ? MISSING_CODE : NUMBER_CODE;
      continue;
    }
    const source = piece.codes === 'slot' ? slot!.subarray(slotRow, slotRow + n) : piece.codes;
    const map = merged.maps[p];
    if (target === slot && slotRow === row && isIdentity(map)) continue;
    // Forward, in place or not: a row's place is never after its slot, so no code is overwritten unread.
    for (let i = 0; i < n; i++) {
      const code = source[i];
      target[row + i] = code >= 0 ? map[code] : code;
    }
  }
  return target.subarray(0, rows);
}

function isIdentity(map: Int32Array): boolean {
  for (let k = 0; k < map.length; k++) if (map[k] !== k) return false;
  return true;
}

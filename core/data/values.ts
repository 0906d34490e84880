/**
 * How one cell of text is read: missing, a number, an ISO date, or a label. Shared by every reader so
 * CSV, Parquet and Arrow agree on what counts as missing or numeric.
 */

/** The longest cell read, in characters: a longer one is a broken file (a missing quote, a binary blob), not a value. */
export const MAX_CELL_CHARS = 64 * 1024;

/** Cells that mean "no value" (compared case-insensitively after trimming): empty, NA, NaN, null. */
export function isMissingText(text: string): boolean {
  if (text.length > 16) return false;
  const t = text.trim().toLowerCase();
  return t === '' || t === 'na' || t === 'nan' || t === 'null';
}

// Plain decimal numbers only: hex, 'Infinity', '1_000' and friends are labels, not numbers.
const NUMBER = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

/**
 * The number a cell holds, or NaN when it is not a plain decimal number. Numbers beyond float range
 * (1e400 reads as Infinity) are NaN too: such a cell stays text, and is refused like 'inf' is.
 */
export function parseNumber(text: string): number {
  if (!NUMBER.test(text)) return NaN;
  const x = Number(text);
  return x === Infinity || x === -Infinity ? NaN : x;
}

/** True for a plain decimal number too large for a 64-bit float (1e400, -2e308). */
export function isOutOfRange(text: string): boolean {
  if (!NUMBER.test(text)) return false;
  const x = Number(text);
  return x === Infinity || x === -Infinity;
}

// ISO 8601 dates and timestamps: 2024-01-31, 2024-01-31T12:00, 2024-01-31 12:00:05.123Z, ...+02:00
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Milliseconds since the epoch for an ISO date/timestamp, or NaN. Dates without a zone are read as UTC. */
export function parseIsoDate(text: string): number {
  const t = text.trim();
  if (t.length < 10 || !ISO_DATE.test(t)) return NaN;
  // Date.parse reads date-only strings as UTC but date-times without a zone as local time: pin both to UTC.
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(t) && t.length > 10;
  const normalized = t.replace(' ', 'T');
  return Date.parse(hasZone || t.length === 10 ? normalized : normalized + 'Z');
}

/**
 * A copy of a string that does not share memory with the chunk it was sliced from. V8 keeps sliced
 * strings as views into their parent, so interning a slice would keep a whole 1 MB read chunk alive.
 */
export function detach(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * Category order: labels that are all numbers sort numerically, otherwise by UTF-16 code units
 * (locale-independent, so the encoding is the same on every machine).
 */
export function compareLabels(a: string, b: string): number {
  const x = parseNumber(a);
  const y = parseNumber(b);
  if (!Number.isNaN(x) && !Number.isNaN(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Quote a cell value for an error message, cut short when long. */
export function quote(value: string | number): string {
  const s = String(value);
  return `'${s.length > 60 ? s.slice(0, 57) + '...' : s}'`;
}

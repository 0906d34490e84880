/**
 * The time column's pattern: its type (whole numbers, numbers, dates, date-times), the most common first
 * stamp of a series and the most common step between stamps, so generated series get stamps that continue
 * the real data's pattern in its own units and format (1976, 1977, ...; 2024-01-31, 2024-02-29, ...).
 */
import type { TimePattern, Value } from './types.ts';
import { parseIsoDate } from './values.ts';

/** The stamps of one series in time order: numbers, or epoch milliseconds for dates. */
export interface SeriesStamps {
  length: number;
  at(t: number): number;
}

/** Consecutive pairs looked at, at most: the step's mode is settled long before on any real file. */
const MAX_PAIRS = 1_000_000;

function mode<K>(counts: Map<K, number>): K | undefined {
  let best: K | undefined;
  let most = 0;
  for (const [key, n] of counts) if (n > most) [best, most] = [key, n];
  return best;
}

const bump = <K>(counts: Map<K, number>, key: K) => counts.set(key, (counts.get(key) ?? 0) + 1);

/** round(x, decimals) without binary noise (0.30000000000000004 -> 0.3). */
const roundTo = (x: number, decimals: number) => Number(x.toFixed(Math.min(100, decimals)));

/** Calendar months from a to b when b is a whole number of months after a (same day and time of day), else NaN. */
function monthsBetween(a: number, b: number): number {
  const x = new Date(a);
  const y = new Date(b);
  const months = (y.getUTCFullYear() - x.getUTCFullYear()) * 12 + y.getUTCMonth() - x.getUTCMonth();
  return months > 0 && addMonths(a, months) === b ? months : NaN;
}

/** a + n calendar months (UTC); a day past the month's end is the month's last day (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(ms: number, n: number): number {
  const d = new Date(ms);
  const day = d.getUTCDate();
  const target = new Date(ms);
  target.setUTCDate(1);
  target.setUTCMonth(target.getUTCMonth() + n);
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, last));
  return target.getTime();
}

/**
 * The pattern of a time column. `kind` says whether the stamps are numbers or dates; `labelOf(s)` gives the
 * first stamp of series s as written (dates: its format is kept); `decimals`: the most decimals a numeric
 * stamp had. Null when there are no stamps.
 */
export function inferTimePattern(series: SeriesStamps[], kind: 'number' | 'date', labelOf: (s: number) => string, decimals = 0, dateOnly = false): TimePattern | null {
  const starts = new Map<number, number>();
  const firstOf = new Map<number, number>();
  const steps = new Map<number, number>();
  const months = new Map<number, number>();
  let pairs = 0;
  series.forEach((x, s) => {
    if (x.length === 0) return;
    const first = x.at(0);
    bump(starts, first);
    if (!firstOf.has(first)) firstOf.set(first, s);
    for (let t = 1; t < x.length && pairs < MAX_PAIRS; t++, pairs++) {
      const a = x.at(t - 1);
      const b = x.at(t);
      bump(steps, kind === 'number' ? roundTo(b - a, decimals) : b - a);
      if (kind === 'date') {
        const m = monthsBetween(a, b);
        if (!Number.isNaN(m)) bump(months, m);
      }
    }
  });
  const start = mode(starts);
  if (start === undefined) return null;
  let step = mode(steps) ?? (kind === 'number' ? 1 : 86_400_000);
  if (kind === 'number') {
    const integer = decimals === 0 && Number.isInteger(start) && Number.isInteger(step);
    return integer ? { type: 'integer', start, step } : { type: 'number', start, step, decimals };
  }
  // Monthly or yearly dates differ by 28-31 or 365-366 days: whole months explain more pairs than any one length.
  const month = mode(months);
  let unit: 'ms' | 'month' = 'ms';
  if (month !== undefined && months.get(month)! > (steps.get(step) ?? 0)) {
    unit = 'month';
    step = month;
  }
  return { type: dateOnly ? 'date' : 'datetime', start: labelOf(firstOf.get(start)!), step, unit };
}

const ISO_PARTS = /^(\d{4}-\d{2}-\d{2})(?:([T ])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch milliseconds written in the format of `example` (an ISO date or date-time as the input wrote them). */
export function formatLike(example: string, ms: number): string {
  const parts = ISO_PARTS.exec(example.trim());
  if (!parts?.[2]) return new Date(ms).toISOString().slice(0, 10);
  const [, , separator, , , seconds, fraction, zone] = parts;
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const iso = new Date(ms + offsetMinutes * 60_000).toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  let out = `${iso.slice(0, 10)}${separator}${iso.slice(11, 16)}`;
  if (seconds !== undefined) {
    out += iso.slice(16, 19);
    if (fraction !== undefined) out += `.${iso.slice(20, 23).padEnd(fraction.length, '0').slice(0, fraction.length)}`;
  }
  return out + (zone ?? '');
}

/** Milliseconds of a date pattern's start. */
const startMs = (pattern: TimePattern) => parseIsoDate(String(pattern.start));

/** Stamp t of a generated series (t = 0, 1, ...): a number, or a date written like the input's. */
export function timeAt(pattern: TimePattern, t: number): Value {
  if (pattern.type === 'integer') return (pattern.start as number) + t * pattern.step;
  if (pattern.type === 'number') return roundTo((pattern.start as number) + t * pattern.step, pattern.decimals ?? 0);
  const ms = pattern.unit === 'month' ? addMonths(startMs(pattern), t * pattern.step) : startMs(pattern) + t * pattern.step;
  return formatLike(String(pattern.start), ms);
}

/** The stamps of a generated series of `length` steps. */
export function timesOf(pattern: TimePattern, length: number): Value[] {
  return Array.from({ length }, (_, t) => timeAt(pattern, t));
}

/** The step in words: '1', '0.5', '1 day', '6 hours', '1 month', '1 year'. */
export function describeStep(pattern: TimePattern): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (pattern.type === 'integer' || pattern.type === 'number') return String(pattern.step);
  if (pattern.unit === 'month') return pattern.step % 12 === 0 ? plural(pattern.step / 12, 'year') : plural(pattern.step, 'month');
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, unit] of units) if (pattern.step % size === 0) return plural(pattern.step / size, unit);
  return plural(pattern.step, 'millisecond');
}

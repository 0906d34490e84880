/**
 * Builds the tables of bench/FIDELITY.md from `dg evaluate` outputs (metrics.json).
 *
 *   node --import tsx bench/fidelity-table.ts [--rows] NAME=DIR[,DIR...] ...
 *
 * Each DIR holds a metrics.json written by `dg evaluate`; several DIRs under one NAME are seeds of one
 * setting and are shown as mean ± sample standard deviation. The first NAME's holdout comparison (the
 * real holdout against the same training data) is the "holdout" column. The last two columns say whether
 * the last NAME (ours) beats the NAME called `gretel*` (every one of them) and `naive` on that metric.
 * --rows prints one row per NAME with the headline metrics as columns (compact, for tuning logs);
 * --short, with --rows, keeps the metrics the tuning log tracks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { headlines, HEADLINE_METRICS } from '../core/eval/summary.ts';
import type { Metrics } from '../core/eval/metrics.ts';

interface Group {
  name: string;
  runs: Metrics[];
}

const args = process.argv.slice(2);
const transposed = args.includes('--rows');
const short = args.includes('--short');
const groups: Group[] = args
  .filter((a) => a !== '--rows' && a !== '--short')
  .map((arg) => {
    const eq = arg.indexOf('=');
    if (eq < 1) throw new Error(`expected NAME=DIR[,DIR...], got '${arg}'`);
    const dirs = arg.slice(eq + 1).split(',');
    return { name: arg.slice(0, eq), runs: dirs.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'metrics.json'), 'utf8')) as Metrics) };
  });
if (groups.length === 0) {
  console.error('usage: node --import tsx bench/fidelity-table.ts [--rows] NAME=DIR[,DIR...] ...');
  process.exit(2);
}

type Read = (m: Metrics) => number | null;
interface Row {
  label: string;
  higherIsBetter: boolean;
  read: Read;
  /** The real holdout's value of the same metric; null where the holdout has none. */
  holdout: Read;
}

const headlineRows: Row[] = HEADLINE_METRICS.map((metric, i) => ({
  label: metric.label,
  higherIsBetter: metric.higherIsBetter,
  read: (m) => headlines(m)[i].value,
  holdout: (m) => headlines(m)[i].holdout,
}));

const feature = (m: Metrics, name: string) => m.synthetic.autocorrelation.perFeature.find((f) => f.feature === name)!;
const dependence = (m: Metrics, attribute: string, feat: string) => m.synthetic.dependence.entries.find((e) => e.attribute === attribute && e.feature === feat)?.weightedGap ?? null;
const holdoutOf =
  (read: (c: Metrics['synthetic']) => number | null): Read =>
  (m) =>
    m.holdout ? read(m.holdout) : null;

/** Diagnostics behind the headline numbers. */
const detailRows: Row[] = [
  ...['traffic_byte_counter', 'ping_loss_rate'].flatMap((f) => [
    { label: `ACF MSE ${f}`, higherIsBetter: false, read: (m: Metrics) => feature(m, f).mse, holdout: holdoutOf((c) => c.autocorrelation.perFeature.find((x) => x.feature === f)!.mse) },
    { label: `ACF lag-1 ${f} (holdout column: the real training data's)`, higherIsBetter: false, read: (m: Metrics) => feature(m, f).other[0], holdout: (m: Metrics) => feature(m, f).real[0] },
  ]),
  ...['isp', 'technology', 'state'].flatMap((a) =>
    ['traffic_byte_counter', 'ping_loss_rate'].map((f) => ({
      label: `dependence ${a} x ${f}`,
      higherIsBetter: false,
      read: (m: Metrics) => dependence(m, a, f),
      holdout: holdoutOf((c) => c.dependence.entries.find((e) => e.attribute === a && e.feature === f)?.weightedGap ?? null),
    })),
  ),
  { label: 'dependence noise floor (at this size)', higherIsBetter: false, read: (m) => m.synthetic.dependence.noiseFloor, holdout: holdoutOf((c) => c.dependence.noiseFloor) },
  { label: 'discriminative accuracy', higherIsBetter: false, read: (m) => m.synthetic.discriminative.accuracy, holdout: holdoutOf((c) => c.discriminative.accuracy) },
  { label: 'TSTR accuracy (technology)', higherIsBetter: true, read: (m) => m.tstr?.tstr ?? null, holdout: () => null },
  { label: 'TRTR accuracy (technology)', higherIsBetter: true, read: (m) => m.tstr?.trtr ?? null, holdout: () => null },
  { label: 'majority-guess accuracy', higherIsBetter: true, read: (m) => m.tstr?.majority ?? null, holdout: () => null },
];

function stats(values: Array<number | null>): { mean: number; sd: number; n: number } | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, n: xs.length };
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.01) return v.toFixed(3);
  return v.toPrecision(2);
}

function cell(group: Group, read: Read): string {
  const s = stats(group.runs.map(read));
  if (!s) return 'n/a';
  return s.n > 1 ? `${fmt(s.mean)} ± ${fmt(s.sd)}` : fmt(s.mean);
}

const better = (row: Row, a: number, b: number) => (row.higherIsBetter ? a > b : a < b);

/** Does the last group's mean beat every run of the named groups? */
function beats(row: Row, names: (n: string) => boolean): string {
  const ours = stats(groups[groups.length - 1].runs.map(row.read));
  const others = groups
    .slice(0, -1)
    .filter((g) => names(g.name))
    .flatMap((g) => g.runs.map(row.read))
    .filter((v): v is number => v !== null);
  if (!ours || others.length === 0) return '';
  const wins = others.filter((o) => better(row, ours.mean, o)).length;
  const ties = others.filter((o) => o === ours.mean).length;
  return wins === others.length ? 'yes' : wins === 0 ? (ties === others.length ? 'tie' : 'no') : `${wins}/${others.length}`;
}

if (transposed) {
  const tracked = ['ACF gap (relative)', 'ACD', 'MDD', 'Per-series stats KS', 'Metadata dependence gap', 'Discriminative score', 'TSTR / TRTR'];
  const rows = short ? headlineRows.filter((r) => tracked.includes(r.label)) : [...headlineRows, ...detailRows.filter((r) => /discriminative accuracy|TSTR accuracy/.test(r.label))];
  console.log('| setting | ' + rows.map((r) => r.label).join(' | ') + ' |');
  console.log('|---|' + rows.map(() => '---').join('|') + '|');
  for (const g of groups) console.log(`| ${g.name} (${g.runs.length}) | ` + rows.map((r) => cell(g, r.read)).join(' | ') + ' |');
} else {
  const hasGretel = groups.some((g) => g.name.startsWith('gretel'));
  const hasNaive = groups.some((g) => g.name === 'naive');
  const header = ['metric', 'holdout (real)', ...groups.map((g) => `${g.name}${g.runs.length > 1 ? ` (${g.runs.length} seeds)` : ''}`)];
  if (hasGretel) header.push(`${groups[groups.length - 1].name} beats gretel`);
  if (hasNaive) header.push(`${groups[groups.length - 1].name} beats naive`);
  const print = (rows: Row[]) => {
    console.log('| ' + header.join(' | ') + ' |');
    console.log('|' + header.map(() => '---').join('|') + '|');
    for (const row of rows) {
      const cells = [row.label + (row.higherIsBetter ? ' (higher is better)' : ''), fmt(row.holdout(groups[0].runs[0])), ...groups.map((g) => cell(g, row.read))];
      if (hasGretel) cells.push(beats(row, (n) => n.startsWith('gretel')));
      if (hasNaive) cells.push(beats(row, (n) => n === 'naive'));
      console.log('| ' + cells.join(' | ') + ' |');
    }
  };
  print(headlineRows);
  console.log('');
  print(detailRows);
}

/**
 * The suite's split and naive baseline for one long-format CSV (bench/suite.sh):
 *   node --import tsx bench/suite/prep.ts IN.csv OUT_DIR ID_COL KEEP [SEED]
 * writes OUT_DIR/train.csv and OUT_DIR/holdout.csv (80/20 by series, seeded shuffle: a series is
 * wholly on one side) and OUT_DIR/naive.csv: as many series as train, each taking the attributes, length
 * and time values of a training series drawn at random (so attributes follow the real joint and lengths
 * the real distribution), and at every step a feature row drawn independently from all pooled training
 * rows: right marginals, no temporal structure, no attribute-feature dependence (like
 * shared/baselines/mba/naive.csv). KEEP (comma-separated) are the columns copied from the donor series:
 * the time column and the attributes; every other column but the id is a feature, drawn per step. Plain text CSV without quoting (bench/suite/datasets.R writes it so).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [input, outDir, idCol, attrArg, seedArg] = process.argv.slice(2);
if (!input || !outDir || !idCol || attrArg === undefined) throw new Error('usage: prep.ts IN.csv OUT_DIR ID_COL KEEP [SEED]');
const seed = Number(seedArg ?? 0);

// mulberry32: a small seeded generator, enough for shuffles and draws.
let state = seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (n: number) => Math.floor(random() * n);

const lines = readFileSync(input, 'utf8').trim().split(/\r?\n/);
const header = lines[0];
const columns = header.split(',');
const id = columns.indexOf(idCol);
const attrs = attrArg
  .split(',')
  .filter(Boolean)
  .map((a) => columns.indexOf(a));
if (id < 0 || attrs.some((a) => a < 0)) throw new Error(`unknown column among ${idCol} / ${attrArg} (have ${header})`);

// Group rows by series, in order of first appearance.
const series = new Map<string, string[][]>();
for (const line of lines.slice(1)) {
  const cells = line.split(',');
  const rows = series.get(cells[id]) ?? [];
  rows.push(cells);
  series.set(cells[id], rows);
}
const ids = [...series.keys()];

// Seeded Fisher-Yates shuffle; the first 20% of the order is the holdout.
const order = ids.slice();
for (let i = order.length - 1; i > 0; i--) {
  const j = pick(i + 1);
  [order[i], order[j]] = [order[j], order[i]];
}
const holdoutCount = Math.round(order.length * 0.2);
const holdout = new Set(order.slice(0, holdoutCount));
const trainIds = ids.filter((s) => !holdout.has(s));

mkdirSync(outDir, { recursive: true });
const write = (name: string, rows: string[][]) => writeFileSync(join(outDir, name), `${[header, ...rows.map((r) => r.join(','))].join('\n')}\n`);
write(
  'train.csv',
  trainIds.flatMap((s) => series.get(s) as string[][]),
);
write(
  'holdout.csv',
  ids.filter((s) => holdout.has(s)).flatMap((s) => series.get(s) as string[][]),
);

// Naive: attributes, length and time values from a random training series; each step's feature cells
// from a random pooled training row.
const pooled = trainIds.flatMap((s) => series.get(s) as string[][]);
const featureCols = columns.map((_, c) => c).filter((c) => c !== id && !attrs.includes(c));
const naive: string[][] = [];
for (let n = 0; n < trainIds.length; n++) {
  const donor = series.get(trainIds[pick(trainIds.length)]) as string[][];
  for (const row of donor) {
    const draw = pooled[pick(pooled.length)];
    const out = row.slice();
    out[id] = `naive${n}`;
    for (const c of featureCols) out[c] = draw[c];
    naive.push(out);
  }
}
write('naive.csv', naive);
console.log(`${input}: ${ids.length} series -> train ${trainIds.length}, holdout ${holdoutCount}, naive ${trainIds.length}`);

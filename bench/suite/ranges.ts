/**
 * What a data-derived auto-normalization rule could look at, per dataset and feature of a suite folder:
 *   node --import tsx bench/suite/ranges.ts OUT_DIR DATASET:ID:FEATURES...
 * - p90/p10: the 90th over the 10th percentile of per-series ranges (max - min; flat series left out):
 *   the current rule (core/train/defaults.ts) turns auto-normalization on at >= 100;
 * - median coverage: the median over series of the series' range / the feature's global range (how much
 *   of the global range one series moves in; the issue's sensor case: a small part), over all series and
 *   over the series that are not flat (MBA's ping loss: most series are all zeros);
 * - spread share: the standard deviation of per-series means over the global standard deviation of
 *   values (near 1: series differ mostly by level, what per-series min/max takes out);
 * - within share: the median over series of the series' own standard deviation over the global standard
 *   deviation (how wide a band one series fills);
 * - lag-1 ACF: the mean over series of the per-series lag-1 autocorrelation (smoothness; flat series
 *   left out). Narrow band and smooth is where a generator's own output noise, at a fixed share of the
 *   global range, swamps a series' movement.
 */
import fs from 'node:fs';
import path from 'node:path';

const [outDir, ...specs] = process.argv.slice(2);
const quantile = (sorted: number[], q: number) => sorted[Math.round(q * (sorted.length - 1))];
const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};
console.log('| dataset | feature | p90/p10 of ranges | median coverage | (non-flat) | spread share | within share | lag-1 ACF |\n|---|---|---|---|---|---|---|---|');
for (const spec of specs) {
  const [name, id, features] = spec.split(':');
  const lines = fs
    .readFileSync(path.join(outDir, name, 'split', 'train.csv'), 'utf8')
    .trim()
    .split(/\r?\n/);
  const cols = lines[0].split(',');
  const idIndex = cols.indexOf(id);
  for (const feature of features.split(',')) {
    const f = cols.indexOf(feature);
    const bySeries = new Map<string, number[]>();
    for (const line of lines.slice(1)) {
      const c = line.split(',');
      const v = Number(c[f]);
      if (c[f] === '' || !Number.isFinite(v)) continue;
      const list = bySeries.get(c[idIndex]) ?? [];
      list.push(v);
      bySeries.set(c[idIndex], list);
    }
    const all = [...bySeries.values()].flat();
    const globalRange = Math.max(...all) - Math.min(...all);
    const ranges = [...bySeries.values()].map((xs) => Math.max(...xs) - Math.min(...xs));
    const nonFlat = ranges.filter((r) => r > 0).sort((a, b) => a - b);
    const coverage = ranges.map((r) => r / globalRange).sort((a, b) => a - b);
    const coverageNonFlat = nonFlat.map((r) => r / globalRange);
    const means = [...bySeries.values()].map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
    const within = [...bySeries.values()].map((xs) => std(xs) / std(all)).sort((a, b) => a - b);
    const lag1 = [...bySeries.values()]
      .map((xs) => {
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        let num = 0;
        let den = 0;
        for (let t = 0; t < xs.length; t++) den += (xs[t] - m) ** 2;
        for (let t = 1; t < xs.length; t++) num += (xs[t] - m) * (xs[t - 1] - m);
        return den > 0 ? num / den : Number.NaN;
      })
      .filter(Number.isFinite);
    const ratio = quantile(nonFlat, 0.9) / quantile(nonFlat, 0.1);
    console.log(
      `| ${name} | ${feature} | ${ratio.toFixed(1)} | ${quantile(coverage, 0.5).toFixed(3)} | ${quantile(coverageNonFlat, 0.5).toFixed(3)} | ${(std(means) / std(all)).toFixed(2)} | ${quantile(within, 0.5).toFixed(3)} | ${(lag1.reduce((a, b) => a + b, 0) / lag1.length).toFixed(2)} |`,
    );
  }
}

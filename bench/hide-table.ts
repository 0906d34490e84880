/**
 * The numbers of bench/PRIVACY.md's "Hiding an attribute's distribution" from bench/hide-mba.sh's outputs:
 *
 *   node --import tsx bench/hide-table.ts RUN_DIR ATTR UNHIDDEN.csv UNHIDDEN_EVAL HIDDEN.csv HIDDEN_EVAL REAL.csv
 *
 * The attribute's marginal in each synthetic file against the released target (JS distance, as the
 * evaluation's attribute JS), and the metadata dependence gap of each evaluation (all attributes, and the
 * hidden attribute's own entries) against the real training data.
 *
 * Changing one attribute's mix changes the other attributes' feature levels too (technology's mean traffic
 * is a mix over ISPs), so the hidden data's gaps on the other attributes move even when every ISP's
 * features are kept. The last table therefore also compares the hidden data with the real data reweighted
 * to the released mix (each real series weighted by target share / real share of its ATTR value), which is
 * what a hidden release that keeps every conditional should reproduce; the unit (std of per-series means
 * over the real series) is the evaluation's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDataset } from '../core/data/index.ts';
import { countLabels, jensenShannonDistance } from '../core/eval/distances.ts';
import type { Metrics } from '../core/eval/metrics.ts';
import { readReleasedAttributes } from '../core/train/released-attributes.ts';
import type { Dataset } from '../core/data/types.ts';
import { mean, std } from '../core/util/stats.ts';

const [runDir, attribute, unhiddenCsv, unhiddenEval, hiddenCsv, hiddenEval, realCsv] = process.argv.slice(2);
if (!realCsv) {
  console.error('usage: node --import tsx bench/hide-table.ts RUN_DIR ATTR UNHIDDEN.csv UNHIDDEN_EVAL HIDDEN.csv HIDDEN_EVAL REAL.csv');
  process.exit(2);
}
const table = readReleasedAttributes(runDir);
if (!table) throw new Error(`${runDir} has no released attribute table`);
const target = new Map(Object.entries(table.hidden.probabilities));
const options = { idColumn: 'series_id', timeColumn: 'step', attributes: ['isp', 'technology', 'state'], features: ['traffic_byte_counter', 'ping_loss_rate'] };

const read = async (file: string) => (await readDataset(file, options)).dataset;

async function marginal(file: string): Promise<Map<string, number>> {
  const dataset = await read(file);
  const a = dataset.attributes.findIndex((c) => c.name === attribute);
  return countLabels(dataset.series.map((s) => String(s.attributes[a])));
}
const metrics = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Metrics;
const gaps = (m: Metrics) => {
  const own = m.synthetic.dependence.entries.filter((e) => e.attribute === attribute);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return { all: m.synthetic.dependence.gap!, noise: m.synthetic.dependence.noiseFloor!, own: mean(own.map((e) => e.weightedGap)), ownNoise: mean(own.map((e) => e.noiseFloor)) };
};
const rows = [
  ['unhidden (as trained)', unhiddenCsv, unhiddenEval],
  [`hidden (${attribute} ${table.hidden.target})`, hiddenCsv, hiddenEval],
] as const;
const lines = [
  '| synthetic data | JS distance of its ' + attribute + ' marginal to the target | metadata dependence gap (noise floor) | ' + attribute + "'s own entries (noise floor) |",
  '| --- | --- | --- | --- |',
];
const out: Record<string, ReturnType<typeof gaps>> = {};
for (const [name, csv, dir] of rows) {
  const js = jensenShannonDistance(await marginal(csv), target);
  const g = gaps(metrics(dir));
  out[name] = g;
  lines.push(`| ${name} | ${js.toFixed(4)} | ${g.all.toFixed(4)} (${g.noise.toFixed(4)}) | ${g.own.toFixed(4)} (${g.ownNoise.toFixed(4)}) |`);
}
const [u, h] = Object.values(out);
console.log(lines.join('\n'));
console.log(`\nhidden / unhidden dependence gap: ${(h.all / u.all).toFixed(2)} (all attributes), ${(h.own / u.own).toFixed(2)} (${attribute})`);

/** The evaluation's weighted gap, with real series weighted (weights 1: the evaluation's own number), per attribute and feature. */
function weightedGaps(real: Dataset, weights: number[], other: Dataset): Array<{ attribute: string; feature: string; gap: number }> {
  const out: Array<{ attribute: string; feature: string; gap: number }> = [];
  real.attributes.forEach((column, a) => {
    if (column.kind !== 'categorical') return;
    real.features.forEach((feature, f) => {
      if (feature.kind !== 'continuous') return;
      const realMeans = real.series.map((s) => mean(s.features[f] as Float64Array));
      const otherMeans = other.series.map((s) => mean(s.features[f] as Float64Array));
      const unit = std(realMeans) || 1;
      const otherOverall = mean(otherMeans);
      const total = weights.reduce((x, w) => x + w, 0);
      let gap = 0;
      for (const category of new Set(real.series.map((s) => String(s.attributes[a])))) {
        let w = 0;
        let wx = 0;
        real.series.forEach((s, i) => {
          if (String(s.attributes[a]) !== category) return;
          w += weights[i];
          wx += weights[i] * realMeans[i];
        });
        if (w === 0) continue;
        const mine = other.series.flatMap((s, i) => (String(s.attributes[a]) === category ? [otherMeans[i]] : []));
        gap += (w / total) * (Math.abs((mine.length ? mean(mine) : otherOverall) - wx / w) / unit);
      }
      out.push({ attribute: column.name, feature: feature.name, gap });
    });
  });
  return out;
}

const real = await read(realCsv);
const a = real.attributes.findIndex((c) => c.name === attribute);
const realShare = countLabels(real.series.map((s) => String(s.attributes[a])));
const reweighted = real.series.map((s) => (target.get(String(s.attributes[a])) ?? 0) / ((realShare.get(String(s.attributes[a])) ?? 1) / real.series.length));
const plain = weightedGaps(
  real,
  real.series.map(() => 1),
  await read(unhiddenCsv),
);
const hiddenPlain = weightedGaps(
  real,
  real.series.map(() => 1),
  await read(hiddenCsv),
);
const hiddenReweighted = weightedGaps(real, reweighted, await read(hiddenCsv));
const avg = (xs: Array<{ gap: number }>) => xs.reduce((s, x) => s + x.gap, 0) / xs.length;
console.log('\n| attribute, feature | unhidden vs real | hidden vs real | hidden vs real reweighted to the released mix |\n| --- | --- | --- | --- |');
plain.forEach((e, i) => console.log(`| ${e.attribute}, ${e.feature} | ${e.gap.toFixed(4)} | ${hiddenPlain[i].gap.toFixed(4)} | ${hiddenReweighted[i].gap.toFixed(4)} |`));
console.log(`| mean | ${avg(plain).toFixed(4)} | ${avg(hiddenPlain).toFixed(4)} | ${avg(hiddenReweighted).toFixed(4)} |`);
console.log(`\nhidden (against the reweighted real data) / unhidden: ${(avg(hiddenReweighted) / avg(plain)).toFixed(2)}`);

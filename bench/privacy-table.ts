/**
 * The table of bench/PRIVACY.md from `dg evaluate` outputs (privacy.json and metrics.json):
 *
 *   node --import tsx bench/privacy-table.ts NAME=DIR ...
 *
 * One row per NAME: the privacy spent (DP runs), copies, distance to closest record with its chance
 * range, each membership attack's AUC with its 95% interval, and a few fidelity headlines to show what
 * the privacy cost.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Metrics } from '../core/eval/metrics.ts';
import { headlines } from '../core/eval/summary.ts';
import type { PrivacyReview } from '../core/privacy/review.ts';

const rows = process.argv.slice(2).map((arg) => {
  const eq = arg.indexOf('=');
  if (eq < 1) throw new Error(`expected NAME=DIR, got '${arg}'`);
  const dir = arg.slice(eq + 1);
  const read = <T>(file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as T;
  return { name: arg.slice(0, eq), privacy: read<PrivacyReview>('privacy.json'), metrics: read<Metrics>('metrics.json') };
});
if (rows.length === 0) {
  console.error('usage: node --import tsx bench/privacy-table.ts NAME=DIR ...');
  process.exit(2);
}

const fidelity = ['discriminative', 'acfMse', 'attributeJs', 'featureWasserstein', 'tstrRatio'];
const attacks = ['nearest generated series', 'generated series nearby', 'critic score'] as const;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const header = [
  'setting',
  'epsilon',
  'copies of training',
  'nearer training (chance)',
  ...attacks.map((a) => `AUC: ${a}`),
  ...fidelity.map((key) => headlines(rows[0].metrics).find((h) => h.key === key)!.label),
];
const lines = rows.map(({ name, privacy, metrics }) => {
  const c = privacy.closestRecord;
  const byKey = new Map(headlines(metrics).map((h) => [h.key, h.value]));
  return [
    name,
    privacy.dp ? privacy.dp.epsilon.toFixed(2) : '-',
    `${privacy.copies.ofTraining} / ${privacy.copies.syntheticChecked}`,
    c ? `${pct(c.closerToTraining)} (${pct(c.chanceLow)}-${pct(c.chanceHigh)})` : '-',
    ...attacks.map((name) => {
      const a = privacy.attacks.find((x) => x.name === name);
      return a ? `${a.auc.toFixed(2)} [${a.aucLow.toFixed(2)}, ${a.aucHigh.toFixed(2)}]` : '-';
    }),
    ...fidelity.map((key) => {
      const v = byKey.get(key);
      return v === null || v === undefined ? '-' : v.toPrecision(3);
    }),
  ];
});
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const line of lines) console.log(`| ${line.join(' | ')} |`);

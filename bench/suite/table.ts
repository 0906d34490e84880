/**
 * The tables of bench/SUITE.md from a suite folder (bench/suite.sh):
 *   node --import tsx bench/suite/table.ts OUT_DIR DATASET...
 * Per dataset: the real-holdout yardstick (eval/metrics.json's `holdout` block: the unseen real split
 * against the training split), the naive baseline (naive/metrics.json) and ours (eval/metrics.json), on the
 * four metrics issue 17 sets a bar for, with the verdict against that bar:
 *  - ACF MSE, per-series statistics KS, metadata dependence gap: within 2x of the yardstick, or, where the
 *    yardstick is near zero (below NEAR_ZERO: two real samples agree so closely that 2x of it is noise),
 *    better than naive;
 *  - discriminative score <= 0.3.
 * Training time, iterations, S and auto-normalization come from run/run.json and train.log (the
 * `training on ...` line dg train prints).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Metrics } from '../../core/eval/metrics.ts';

const [outDir, ...datasets] = process.argv.slice(2);
type Comparison = Metrics['synthetic'];

const NEAR_ZERO = { acf: 0.005, ks: 0.05, dep: 0.05 };
const metrics: { key: keyof typeof NEAR_ZERO | 'disc'; label: string; read: (c: Comparison) => number | null }[] = [
  { key: 'acf', label: 'ACF MSE', read: (c) => c.autocorrelation.mse },
  { key: 'ks', label: 'Per-series stats KS', read: (c) => c.seriesStatistics.ks },
  { key: 'dep', label: 'Metadata dependence gap', read: (c) => c.dependence.gap },
  { key: 'disc', label: 'Discriminative score', read: (c) => c.discriminative.score },
];

const fmt = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 0.01 || x === 0 ? x.toPrecision(3).replace(/\.?0+$/, '') : x.toExponential(1);
const load = (file: string) => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Metrics) : null);

const summary: string[] = [
  '| dataset | series (train/holdout) x T | S, auto-norm | iterations, training time | ACF MSE | per-series KS | dependence | discriminative | passes |',
  '|---|---|---|---|---|---|---|---|---|',
];
const detail: string[] = [];
for (const name of datasets) {
  const dir = path.join(outDir, name);
  const ours = load(path.join(dir, 'eval', 'metrics.json'));
  const naive = load(path.join(dir, 'naive', 'metrics.json'));
  const yard = (ours ?? naive)?.holdout ?? null;
  const sizes = (ours ?? naive)?.sizes;
  const runFile = path.join(dir, 'run', 'run.json');
  const run = fs.existsSync(runFile) ? JSON.parse(fs.readFileSync(runFile, 'utf8')) : null;
  const logFile = path.join(dir, 'train.log');
  const plan = fs.existsSync(logFile) ? /T=(\d+), S=(\d+), auto-normalization (\w+)\)/.exec(fs.readFileSync(logFile, 'utf8')) : null;
  const time = run ? `${run.iteration}${run.status === 'complete' ? '' : ` (${run.status})`}, ${(run.elapsedSeconds / 60).toFixed(1)} min` : 'not run';

  detail.push(`### ${name}`, '', `| metric | holdout (real) | naive | ours | bar | verdict |`, '|---|---|---|---|---|---|');
  const cells: string[] = [];
  let passes = 0;
  let judged = 0;
  for (const m of metrics) {
    const y = yard ? m.read(yard) : null;
    const n = naive ? m.read(naive.synthetic) : null;
    const o = ours ? m.read(ours.synthetic) : null;
    let bar: string;
    let ok: boolean | null = null;
    if (m.key === 'disc') {
      bar = '<= 0.3';
      if (o !== null) ok = o <= 0.3;
    } else if (y !== null && y < NEAR_ZERO[m.key]) {
      bar = `< naive (holdout near 0)`;
      if (o !== null && n !== null) ok = o < n;
    } else {
      bar = y === null ? 'n/a' : `<= ${fmt(2 * y)}`;
      if (o !== null && y !== null) ok = o <= 2 * y;
    }
    if (ok !== null) {
      judged++;
      if (ok) passes++;
    }
    const ratio = o !== null && y !== null && y > 0 && m.key !== 'disc' ? ` (${(o / y).toFixed(1)}x holdout)` : '';
    cells.push(`${fmt(o)}${ok === null ? '' : ok ? ' ✓' : ' ✗'}`);
    detail.push(`| ${m.label} | ${fmt(y)} | ${fmt(n)} | ${fmt(o)}${ratio} | ${bar} | ${ok === null ? 'n/a' : ok ? 'pass' : 'FAIL'} |`);
  }
  if (ours) {
    const floor = ours.synthetic.dependence.noiseFloor;
    detail.push(`| (dependence noise floor at these sizes) | ${fmt(yard?.dependence.noiseFloor)} | ${fmt(naive?.synthetic.dependence.noiseFloor)} | ${fmt(floor)} | | |`);
    detail.push(`| discriminative accuracy | ${fmt(yard?.discriminative.accuracy)} | ${fmt(naive?.synthetic.discriminative.accuracy)} | ${fmt(ours.synthetic.discriminative.accuracy)} | | |`);
    if (ours.tstr) detail.push(`| TSTR / TRTR (${ours.tstr.target}) | | ${fmt(naive?.tstr?.ratio)} | ${fmt(ours.tstr.ratio)} | | |`);
  }
  detail.push('', `Training: ${time}${plan ? `; T=${plan[1]}, S=${plan[2]}, auto-normalization ${plan[3]}` : ''}.`, '');
  summary.push(
    `| ${name} | ${sizes ? `${sizes.real}/${sizes.holdout} x ${sizes.longestRealSeries}` : '?'} | ${plan ? `${plan[2]}, ${plan[3]}` : '?'} | ${time} | ${cells.join(' | ') || ' | | | '} | ${ours ? `${passes}/${judged}` : 'not run'} |`,
  );
}
console.log(`${summary.join('\n')}\n\n${detail.join('\n')}`);

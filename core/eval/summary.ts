/**
 * Turns Metrics into verdicts and a plain-language paragraph. The thresholds are judgement calls,
 * documented here so a user can see why an aspect was called faithful:
 * - the absolute thresholds are floors: a metric beyond its `poor` threshold is "unfaithful" whatever the
 *   yardstick says (a small or unusual holdout can differ from the training data by that much too, which
 *   makes the yardstick noisy, not the synthetic data faithful);
 * - a metric at or below `good` is "faithful"; between `good` and `poor` it is "faithful" when within 1.25x
 *   of the same metric between the real training data and a real holdout (two real samples differ by that
 *   much too), else "approximate". For the TSTR ratio (higher is better) only the thresholds apply.
 * The metadata dependence gap is judged against its sampling-noise floor at the synthetic data's size
 * instead of the holdout (per-category means of a small holdout are too noisy to be a useful yardstick).
 * An aspect takes the worst verdict of its metrics.
 * The holdout yardstick has its own noise: with fewer series than the synthetic data (MBA: 120 vs 480)
 * its histogram- and per-category numbers are larger than a same-size sample's would be.
 */

import type { Comparison, Metrics } from './metrics.ts';

export type Verdict = 'faithful' | 'approximate' | 'unfaithful';

export interface HeadlineMetric {
  key: string;
  aspect: string;
  label: string;
  /** What the number means, for tables and tooltips. */
  description: string;
  good: number;
  poor: number;
  higherIsBetter: boolean;
  read: (comparison: Comparison, metrics: Metrics) => number | null;
  /** The yardstick for this metric when it is not the holdout's value of the same metric. */
  reference?: { name: string; read: (comparison: Comparison) => number | null };
}

// biome-ignore format: a table, one metric a line
export const HEADLINE_METRICS: HeadlineMetric[] = [
  { key: 'acfRelativeGap', aspect: 'temporal structure', label: 'ACF gap (relative)', description: 'sum |ACF real - ACF synthetic| / sum |ACF real| over lags and features (DoppelGANger per-series ACF)', good: 0.2, poor: 0.5, higherIsBetter: false, read: (c) => c.autocorrelation.relativeGap },
  { key: 'acfMse', aspect: 'temporal structure', label: 'ACF MSE', description: 'mean squared difference of the per-series ACF curves over lags', good: 0.005, poor: 0.03, higherIsBetter: false, read: (c) => c.autocorrelation.mse },
  { key: 'acd', aspect: 'temporal structure', label: 'ACD', description: 'TSGBench autocorrelation difference: L2 distance of dataset-level ACF vectors, mean over features', good: 0.3, poor: 1, higherIsBetter: false, read: (c) => c.autocorrelation.acd },
  { key: 'attributeJs', aspect: 'attribute distribution', label: 'Attribute JS distance', description: 'Jensen-Shannon distance per categorical attribute (0 to 0.83), mean', good: 0.05, poor: 0.15, higherIsBetter: false, read: (c) => c.attributes.jsDistance },
  { key: 'attributePairTvd', aspect: 'attribute distribution', label: 'Attribute pair TVD', description: 'total variation distance of the joint of each pair of categorical attributes (0 to 1), mean', good: 0.1, poor: 0.3, higherIsBetter: false, read: (c) => c.attributes.pairwiseTvd },
  { key: 'featureWasserstein', aspect: 'value distribution', label: 'Feature Wasserstein-1', description: 'Wasserstein-1 of all values of a feature over the real range, mean over features', good: 0.01, poor: 0.05, higherIsBetter: false, read: (c) => c.features.wasserstein },
  { key: 'mdd', aspect: 'value distribution', label: 'MDD', description: 'TSGBench marginal distribution difference per time step (50-bin densities), mean over features', good: 0.3, poor: 1, higherIsBetter: false, read: (c) => c.features.mdd },
  { key: 'seriesStatisticsKs', aspect: 'value distribution', label: 'Per-series stats KS', description: 'KS statistic of per-series mean/std/min/max distributions (1 - KS is the KS complement), mean', good: 0.1, poor: 0.25, higherIsBetter: false, read: (c) => c.seriesStatistics.ks },
  { key: 'skewnessDifference', aspect: 'distribution shape', label: 'Skewness difference', description: 'TSGBench SD: |skewness synthetic - skewness real|, mean over features', good: 0.5, poor: 2, higherIsBetter: false, read: (c) => c.features.skewnessDifference },
  { key: 'kurtosisDifference', aspect: 'distribution shape', label: 'Kurtosis difference', description: 'TSGBench KD: |excess kurtosis difference|, mean over features (unstable for heavy tails)', good: 1, poor: 10, higherIsBetter: false, read: (c) => c.features.kurtosisDifference },
  { key: 'dependenceGap', aspect: 'attribute-feature dependence', label: 'Metadata dependence gap', description: 'per attribute value, |mean of per-series means synthetic - real| in std of per-series means, frequency-weighted, mean over attribute x feature', good: 0.1, poor: 0.25, higherIsBetter: false, read: (c) => c.dependence.gap, reference: { name: 'sampling noise', read: (c) => c.dependence.noiseFloor } },
  { key: 'crossCorrelation', aspect: 'cross-feature correlation', label: 'Cross-correlation Wasserstein-1', description: 'Wasserstein-1 between distributions of per-series correlation of each feature pair, mean', good: 0.1, poor: 0.25, higherIsBetter: false, read: (c) => c.crossCorrelation.wasserstein },
  { key: 'length', aspect: 'series lengths', label: 'Length Wasserstein-1 (relative)', description: 'Wasserstein-1 of series lengths over the longest real series', good: 0.02, poor: 0.1, higherIsBetter: false, read: (c) => c.length.normalised },
  { key: 'discriminative', aspect: 'distinguishability', label: 'Discriminative score', description: '|accuracy - 0.5| of an MLP telling real from synthetic series on a held-out 30% (0 = indistinguishable, 0.5 = separable)', good: 0.1, poor: 0.3, higherIsBetter: false, read: (c) => c.discriminative.score },
  { key: 'tstrRatio', aspect: 'downstream usefulness', label: 'TSTR / TRTR', description: 'accuracy predicting the target attribute when trained on synthetic vs on real data, both tested on real series', good: 0.9, poor: 0.7, higherIsBetter: true, read: (_c, m) => m.tstr?.ratio ?? null },
];

export const VERDICT_ORDER: Verdict[] = ['faithful', 'approximate', 'unfaithful'];

export function verdictOf(metric: HeadlineMetric, value: number, reference: number | null): Verdict {
  if (metric.higherIsBetter) return value >= metric.good ? 'faithful' : value >= metric.poor ? 'approximate' : 'unfaithful';
  // the thresholds are floors: beyond `poor` is unfaithful whatever the yardstick
  if (value > metric.poor) return 'unfaithful';
  if (value <= metric.good || (reference !== null && value <= 1.25 * reference)) return 'faithful';
  return 'approximate';
}

export interface HeadlineRow {
  key: string;
  aspect: string;
  label: string;
  description: string;
  value: number | null;
  /** The same metric for the real holdout vs the training data; null without a holdout. */
  holdout: number | null;
  /** What the verdict measured the value against besides the thresholds: the holdout's value, or the
   * metric's sampling-noise level (referenceName says which); null when there is none. */
  reference: number | null;
  referenceName: string | null;
  good: number;
  poor: number;
  verdict: Verdict | null;
}

export function headlines(metrics: Metrics): HeadlineRow[] {
  return HEADLINE_METRICS.map((metric) => {
    const value = metric.read(metrics.synthetic, metrics);
    const holdout = metrics.holdout && !metric.higherIsBetter ? metric.read(metrics.holdout, metrics) : null;
    const reference = metric.reference ? metric.reference.read(metrics.synthetic) : holdout;
    const referenceName = metric.reference ? metric.reference.name : holdout !== null ? 'holdout' : null;
    return {
      key: metric.key,
      aspect: metric.aspect,
      label: metric.label,
      description: metric.description,
      value,
      holdout,
      reference,
      referenceName,
      good: metric.good,
      poor: metric.poor,
      verdict: value === null ? null : verdictOf(metric, value, reference),
    };
  });
}

/** The worse of two verdicts (VERDICT_ORDER: faithful, approximate, unfaithful). */
const worse = (a: Verdict, b: Verdict): Verdict => (VERDICT_ORDER.indexOf(b) > VERDICT_ORDER.indexOf(a) ? b : a);

/** Each aspect with the worst verdict among its metrics (aspects without any number are left out). */
export function aspectVerdicts(rows: HeadlineRow[]): Array<{ aspect: string; verdict: Verdict }> {
  const aspects = new Map<string, Verdict>();
  for (const row of rows) {
    if (row.verdict === null) continue;
    const current = aspects.get(row.aspect);
    aspects.set(row.aspect, current ? worse(current, row.verdict) : row.verdict);
  }
  return [...aspects].map(([aspect, verdict]) => ({ aspect, verdict }));
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(0)}%`;
}

/**
 * What the synthetic data is good enough for: each use rests on the aspects it reads, and takes the worst
 * verdict among them (a use whose aspects have no number is left out). The mapping is a judgement call,
 * written here so a reader can check it: e.g. forecasting reads the temporal structure, a per-ISP
 * comparison the attribute-feature dependence.
 */
export function usesVerdict(metrics: Metrics): Array<{ use: string; verdict: Verdict }> {
  return usesOf(aspectVerdicts(headlines(metrics)), metrics.tstr?.target);
}

function usesOf(aspectList: Array<{ aspect: string; verdict: Verdict }>, target: string | undefined): Array<{ use: string; verdict: Verdict }> {
  const aspects = new Map(aspectList.map((a) => [a.aspect, a.verdict]));
  // biome-ignore format: a table, one use a line
  const uses: Array<{ use: string; reads: string[] }> = [
    { use: 'summary statistics and value distributions (dashboards or capacity planning)', reads: ['value distribution', 'attribute distribution'] },
    { use: 'tails and outliers', reads: ['distribution shape'] },
    { use: 'comparing groups of series by their attributes', reads: ['attribute-feature dependence'] },
    { use: "the series' dynamics (forecasting or anomaly detection)", reads: ['temporal structure'] },
    { use: 'relations between features', reads: ['cross-feature correlation'] },
    ...(target ? [{ use: `training models that predict ${target}`, reads: ['downstream usefulness'] }] : []),
    { use: 'standing in for real series one by one (testing pipelines or demos)', reads: ['distinguishability', 'series lengths'] },
  ];
  return uses.flatMap(({ use, reads }) => {
    const verdicts = reads.map((aspect) => aspects.get(aspect)).filter((v): v is Verdict => v !== undefined);
    if (verdicts.length === 0) return [];
    return [{ use, verdict: verdicts.reduce(worse) }];
  });
}

/** Clauses naming the items of each verdict after that verdict's words, best first ("faithful in a and b"). */
function verdictClauses(items: Array<{ name: string; verdict: Verdict }>, words: Record<Verdict, string>): string[] {
  return VERDICT_ORDER.flatMap((verdict) => {
    const names = items.filter((item) => item.verdict === verdict).map((item) => item.name);
    return names.length ? [`${words[verdict]} ${list(names)}`] : [];
  });
}

/** How a use's verdict reads: "good enough for" a use, and so on. */
export const USE_WORDS: Record<Verdict, string> = { faithful: 'good enough for', approximate: 'usable with care for', unfaithful: 'not for' };

/** The verdict in two parts: the uses (best first) and their sentence, then the paragraph that explains them. */
export interface SummaryParts {
  uses: Array<{ use: string; verdict: Verdict }>;
  /** "This synthetic data is good enough for ...; not for ...", or null when no use has a number. */
  usesSentence: string | null;
  /** Faithful where, approximate where, not faithful where, the classifier, TSTR, the largest departures. */
  details: string;
  /** The uses' sentence and the details as one paragraph (what `summarize` returns). */
  paragraph: string;
}

/** One paragraph, generated from the numbers, for readers who will not read the table. */
export function summarize(metrics: Metrics): string {
  return summaryParts(metrics).paragraph;
}

export function summaryParts(metrics: Metrics): SummaryParts {
  const rows = headlines(metrics);
  const aspects = aspectVerdicts(rows);
  const sentences: string[] = [];
  const uses = usesOf(aspects, metrics.tstr?.target);
  const useClauses = verdictClauses(
    uses.map((u) => ({ name: u.use, verdict: u.verdict })),
    USE_WORDS,
  );
  const usesSentence = useClauses.length ? `This synthetic data is ${useClauses.join('; ')}.` : null;
  sentences.push(
    `Compared with the ${metrics.sizes.real} real training series, the ${metrics.sizes.synthetic} synthetic series` +
      (metrics.holdout ? ` (judged against how much a real holdout of ${metrics.sizes.holdout} series differs from the training data)` : '') +
      ':',
  );
  const aspectClauses = verdictClauses(
    aspects.map((a) => ({ name: a.aspect, verdict: a.verdict })),
    { faithful: 'faithful in', approximate: 'approximate in', unfaithful: 'not faithful in' },
  );
  sentences[sentences.length - 1] += ` they are ${list(aspectClauses)}.`;

  const discriminative = metrics.synthetic.discriminative;
  sentences.push(
    `A small neural network tells synthetic from real series apart ${percent(discriminative.accuracy)} of the time on series it did not train on (50% would mean indistinguishable` +
      (metrics.holdout ? `; two real samples: ${percent(metrics.holdout.discriminative.accuracy)}` : '') +
      ').',
  );
  if (discriminative.accuracy < 0.4) {
    sentences.push(
      'That is worse than guessing, which happens when synthetic series copy training series (the classifier learns a series as real and then meets its copy labelled synthetic): check the privacy report for copies.',
    );
  }
  const tstr = metrics.tstr;
  if (tstr) {
    sentences.push(
      `For predicting ${tstr.target} from the series, a model trained on synthetic data is right ${percent(tstr.tstr)} of the time on real test series, against ${percent(tstr.trtr)} for a model trained on real data` +
        (tstr.ratio !== null ? ` (ratio ${tstr.ratio.toFixed(2)})` : '') +
        `; always guessing the most common value gives ${percent(tstr.majority)}.`,
    );
  }
  const worst = rows
    .filter((row) => row.verdict === 'unfaithful' && row.value !== null)
    .map((row) => `${row.label} ${formatNumber(row.value!)}${row.reference !== null ? ` (${row.referenceName} ${formatNumber(row.reference)})` : ''}`);
  if (worst.length) sentences.push(`The largest departures: ${list(worst.slice(0, 4))}.`);
  else sentences.push('No metric is beyond its "unfaithful" threshold.');
  // a yardstick beyond the threshold itself: say why it did not excuse the synthetic data
  const noisyYardstick = rows.filter((row) => row.verdict === 'unfaithful' && row.reference !== null && row.referenceName === 'holdout' && row.reference > row.poor);
  if (noisyYardstick.length) {
    sentences.push(
      `The holdout itself is beyond the threshold on ${list(noisyYardstick.map((row) => row.label))}` +
        (metrics.sizes.holdout !== null ? ` (${metrics.sizes.holdout} series: a noisy yardstick)` : '') +
        ', so it does not excuse the synthetic data there: the thresholds are floors.',
    );
  }
  const order = (v: Verdict) => VERDICT_ORDER.indexOf(v);
  const details = sentences.join(' ');
  return { uses: [...uses].sort((a, b) => order(a.verdict) - order(b.verdict)), usesSentence, details, paragraph: usesSentence ? `${usesSentence} ${details}` : details };
}

export function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000 || magnitude < 0.001) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

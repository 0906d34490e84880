/**
 * The fidelity report: one self-contained HTML file (inline SVG charts, inline CSS, no scripts).
 */

import type { Dataset } from '../data/types.ts';
import { escapeHtml, section } from '../util/html.ts';
import { Rng } from '../util/rng.ts';
import { max, min } from '../util/stats.ts';
import { barChart, COLORS, lineChart, sampleChart } from './charts.ts';
import { pooled, toPlain, type PlainDataset } from './extract.ts';
import { displayRange, histogramShares, labelShares } from './histogram.ts';
import type { Metrics } from './metrics.ts';
import { SERIES_STATISTICS } from './statistics.ts';
import { formatNumber, headlines, summarize } from './summary.ts';
import { SEAM_EXCESS_VISIBLE, type SeamResult } from './seams.ts';

const HISTOGRAM_BINS = 40;
const MAX_CATEGORIES_SHOWN = 25;
const SAMPLE_SERIES = 3;

function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cell = (value: string | number | null) => (typeof value === 'number' || value === null ? formatNumber(value) : escapeHtml(value));
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((value) => `<td>${cell(value)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function charts(svgs: string[]): string {
  return `<div class="charts">${svgs.map((svg) => `<figure>${svg}</figure>`).join('')}</div>`;
}

function lagLabels(count: number): number[] {
  return Array.from({ length: count }, (_, j) => j + 1);
}

function acfSection(metrics: Metrics): string {
  const holdout = metrics.holdout;
  const svgs = metrics.synthetic.autocorrelation.perFeature.map((feature, f) =>
    lineChart(
      `Autocorrelation: ${feature.feature}`,
      lagLabels(feature.real.length),
      [
        { name: 'real', color: COLORS.real, data: feature.real },
        { name: 'synthetic', color: COLORS.synthetic, data: feature.other },
        ...(holdout ? [{ name: 'holdout', color: COLORS.holdout, data: holdout.autocorrelation.perFeature[f].other, dashed: true }] : []),
      ],
      { x: 'lag', y: 'mean ACF' },
    ),
  );
  const rows = metrics.synthetic.autocorrelation.perFeature.map((feature, f) => [
    feature.feature,
    feature.mse,
    feature.relativeGap,
    feature.acd,
    holdout ? holdout.autocorrelation.perFeature[f].acd : null,
    `${feature.realDefinedSeries} / ${feature.otherDefinedSeries}`,
  ]);
  return section(
    'Temporal structure',
    `<p>Mean over series of each series' autocorrelation at lags 1 to ${metrics.synthetic.autocorrelation.maxLag} (series that are constant have none and are left out).</p>` +
      charts(svgs) +
      table(['feature', 'ACF MSE', 'ACF gap (relative)', 'ACD', 'ACD holdout', 'series with an ACF (real / synthetic)'], rows) +
      seamsPart(metrics.seams ?? null),
  );
}

/** The autocorrelation at the generator's seams (lags S, 2S, ...) against the real curve's. */
function seamsPart(seams: SeamResult | null): string {
  if (!seams) return '';
  const S = seams.sampleLen;
  const visible = seams.excess !== null && seams.excess > SEAM_EXCESS_VISIBLE;
  const verdict =
    seams.excess === null
      ? 'The curves are too short to tell.'
      : visible
        ? `The synthetic curve spikes there by ${formatNumber(seams.excess)} more than the real one: the series break every ${S} steps (a smaller S, or longer training, may help).`
        : `The synthetic curve spikes there no more than the real one (difference ${formatNumber(seams.excess)}): no visible seams.`;
  const rows = seams.perFeature.flatMap((f) =>
    f.lags.map((lag, k) => [f.feature, lag, f.real[k], f.synthetic[k], f.holdout ? f.holdout[k] : null, k === 0 ? f.realSpike : null, k === 0 ? f.syntheticSpike : null]),
  );
  return (
    `<h3>Seams every ${S} steps</h3><p>The generator emits ${S} steps at a time; where its pieces do not join smoothly, the synthetic autocorrelation spikes at lags ${S}, ${2 * S}, ... (spike: the value minus the mean of its two neighbours, averaged over those lags). ${escapeHtml(verdict)}</p>` +
    table(['feature', 'lag', 'real ACF', 'synthetic ACF', 'holdout ACF', 'real spike', 'synthetic spike'], rows)
  );
}

function marginalSection(metrics: Metrics, real: PlainDataset, synthetic: PlainDataset, holdout: PlainDataset | null): string {
  const svgs = real.featureNames.map((feature, f) => {
    const realValues = pooled(real.features[f]);
    const [lo, hi] = displayRange(realValues);
    const width = (hi - lo) / HISTOGRAM_BINS;
    const labels = Array.from({ length: HISTOGRAM_BINS }, (_, b) => formatNumber(lo + (b + 0.5) * width));
    const series = [
      { name: 'real', color: COLORS.real, data: histogramShares(realValues, lo, hi, HISTOGRAM_BINS) },
      { name: 'synthetic', color: COLORS.synthetic, data: histogramShares(pooled(synthetic.features[f]), lo, hi, HISTOGRAM_BINS) },
      ...(holdout ? [{ name: 'holdout', color: COLORS.holdout, data: histogramShares(pooled(holdout.features[f]), lo, hi, HISTOGRAM_BINS) }] : []),
    ];
    return barChart(`Values: ${feature} (last bar: >= ${formatNumber(hi - width)})`, labels, series, { y: 'share' }, 460, true);
  });
  const rows = metrics.synthetic.features.perFeature.map((feature, f) => [
    feature.feature,
    feature.wasserstein,
    feature.mdd,
    feature.realSkewness,
    feature.otherSkewness,
    feature.realKurtosis,
    feature.otherKurtosis,
    ...SERIES_STATISTICS.map((statistic) => 1 - metrics.synthetic.seriesStatistics.perFeature[f].ks[statistic]),
  ]);
  return section(
    'Value distributions',
    '<p>Share of all values (every series, every step) per bin; the range runs from the real minimum to the real 99th percentile.</p>' +
      charts(svgs) +
      table(
        [
          'feature',
          'Wasserstein-1 / range',
          'MDD',
          'skewness real',
          'skewness synthetic',
          'excess kurtosis real',
          'excess kurtosis synthetic',
          ...SERIES_STATISTICS.map((s) => `1 - KS per-series ${s}`),
        ],
        rows,
      ),
  );
}

/** Most frequent real categories first, the rest folded into "(other)". */
function shownCategories(realLabels: string[], otherLabels: string[][]): string[] {
  const counts = new Map<string, number>();
  for (const label of realLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  for (const labels of otherLabels) for (const label of labels) if (!counts.has(label)) counts.set(label, 0);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label]) => label);
}

function foldedShares(labels: string[], shown: string[], all: string[]): number[] {
  const shares = labelShares(labels, all);
  const head = shares.slice(0, shown.length);
  return all.length > shown.length ? [...head, shares.slice(shown.length).reduce((sum, v) => sum + v, 0)] : head;
}

function attributeSection(metrics: Metrics, real: PlainDataset, synthetic: PlainDataset, holdout: PlainDataset | null): string {
  if (real.categoricalNames.length === 0) return '';
  const svgs = real.categoricalNames.map((attribute, a) => {
    const all = shownCategories(real.categorical[a], [synthetic.categorical[a], ...(holdout ? [holdout.categorical[a]] : [])]);
    const shown = all.slice(0, MAX_CATEGORIES_SHOWN);
    const labels = all.length > shown.length ? [...shown, '(other)'] : shown;
    return barChart(
      `Attribute: ${attribute}`,
      labels,
      [
        { name: 'real', color: COLORS.real, data: foldedShares(real.categorical[a], shown, all) },
        { name: 'synthetic', color: COLORS.synthetic, data: foldedShares(synthetic.categorical[a], shown, all) },
        ...(holdout ? [{ name: 'holdout', color: COLORS.holdout, data: foldedShares(holdout.categorical[a], shown, all) }] : []),
      ],
      { y: 'share' },
      labels.length > 12 ? 940 : 460,
    );
  });
  const attributes = metrics.synthetic.attributes;
  return section(
    'Attributes',
    charts(svgs) +
      table(
        ['attribute', 'JS distance', 'JS distance holdout', 'categories real', 'categories synthetic', 'synthetic categories unseen in real'],
        attributes.perAttribute.map((p, a) => [p.attribute, p.jsDistance, metrics.holdout?.attributes.perAttribute[a].jsDistance ?? null, p.realCategories, p.otherCategories, p.unseenInReal]),
      ) +
      (attributes.pairs.length
        ? table(
            ['attribute pair', 'TVD of the joint', 'TVD holdout'],
            attributes.pairs.map((p, i) => [p.attributes.join(' x '), p.tvd, metrics.holdout?.attributes.pairs[i].tvd ?? null]),
          )
        : ''),
  );
}

function lengthSection(metrics: Metrics, real: PlainDataset, synthetic: PlainDataset): string {
  const lo = Math.min(min(real.lengths), min(synthetic.lengths));
  const hi = Math.max(max(real.lengths), max(synthetic.lengths));
  const bins = Math.min(30, hi - lo + 1);
  const width = (hi - lo + 1) / bins;
  const labels = Array.from({ length: bins }, (_, b) => (bins === hi - lo + 1 ? String(lo + b) : `${Math.round(lo + b * width)}`));
  const svg = barChart(
    'Series lengths',
    labels,
    [
      { name: 'real', color: COLORS.real, data: histogramShares(real.lengths, lo, hi + 1, bins) },
      { name: 'synthetic', color: COLORS.synthetic, data: histogramShares(synthetic.lengths, lo, hi + 1, bins) },
    ],
    { x: 'steps', y: 'share' },
    460,
    true,
  );
  const length = metrics.synthetic.length;
  return section(
    'Series lengths',
    charts([svg]) + table(['Wasserstein-1 (steps)', 'relative to longest real', 'mean real', 'mean synthetic'], [[length.wasserstein, length.normalised, length.realMean, length.otherMean]]),
  );
}

function dependenceSection(metrics: Metrics): string {
  const entries = metrics.synthetic.dependence.entries;
  if (entries.length === 0) return '';
  const svgs = entries.map((entry) => {
    const shown = entry.categories.slice(0, MAX_CATEGORIES_SHOWN);
    return barChart(
      `Mean ${entry.feature} by ${entry.attribute}`,
      shown.map((c) => c.category),
      [
        { name: 'real', color: COLORS.real, data: shown.map((c) => c.realMean) },
        { name: 'synthetic', color: COLORS.synthetic, data: shown.map((c) => c.otherMean) },
      ],
      { y: 'mean of per-series means' },
      shown.length > 12 ? 940 : 460,
    );
  });
  const summaryRows = entries.map((entry, i) => [entry.attribute, entry.feature, entry.weightedGap, entry.noiseFloor, metrics.holdout?.dependence.entries[i].weightedGap ?? null, entry.unit]);
  const detailRows = entries.flatMap((entry) =>
    entry.categories.map((c) => [entry.attribute, c.category, entry.feature, c.realCount, c.otherCount, c.realMean, c.otherMean, c.gapInStd, c.noiseFloor, c.ks]),
  );
  return section(
    'Attribute-feature dependence',
    "<p>For each attribute value, the average over its series of each series' mean. Gaps are in standard deviations of per-series means over all real series; the sampling-noise level is the gap two samples of these sizes from the real distribution would show.</p>" +
      charts(svgs) +
      table(['attribute', 'feature', 'weighted gap (std)', 'sampling-noise level', 'holdout', 'unit (std of per-series means)'], summaryRows) +
      `<details><summary>Per category</summary>${table(['attribute', 'value', 'feature', 'real series', 'synthetic series', 'real mean', 'synthetic mean', 'gap (std)', 'noise level (std)', 'KS'], detailRows)}</details>`,
  );
}

function crossCorrelationSection(metrics: Metrics): string {
  const pairs = metrics.synthetic.crossCorrelation.pairs;
  if (pairs.length === 0) return '';
  return section(
    'Cross-feature correlation',
    '<p>Per series, the Pearson correlation between two features; the distributions over series are compared (series where a feature is constant are left out).</p>' +
      table(
        ['features', 'Wasserstein-1', 'holdout', 'mean real', 'mean synthetic', 'series real', 'series synthetic'],
        pairs.map((p, i) => [p.features.join(' x '), p.wasserstein, metrics.holdout?.crossCorrelation.pairs[i].wasserstein ?? null, p.realMean, p.otherMean, p.realDefined, p.otherDefined]),
      ),
  );
}

function samplesSection(metrics: Metrics, real: PlainDataset, synthetic: PlainDataset): string {
  const rng = new Rng(metrics.seed, 4);
  const pick = (n: number) => Array.from(rng.permutation(n).subarray(0, Math.min(SAMPLE_SERIES, n)));
  const realPick = pick(real.lengths.length);
  const syntheticPick = pick(synthetic.lengths.length);
  const svgs = real.featureNames.flatMap((feature, f) => {
    const realLines = realPick.map((s) => Array.from(real.features[f][s]));
    const syntheticLines = syntheticPick.map((s) => Array.from(synthetic.features[f][s]));
    const all = [...realLines, ...syntheticLines].flat();
    const range: [number, number] = [min(all), max(all)];
    if (!(range[1] > range[0])) range[1] = range[0] + 1;
    return [
      realSeriesBlock(sampleChart(`Real series: ${feature}`, [{ name: 'real', color: COLORS.real, lines: realLines }], range)),
      sampleChart(`Synthetic series: ${feature}`, [{ name: 'synthetic', color: COLORS.synthetic, lines: syntheticLines }], range),
    ];
  });
  return section(
    'Sample series',
    realSeriesBlock(`<p>${SAMPLE_SERIES} real and ${SAMPLE_SERIES} synthetic series picked at random, on the same scale.</p>`, `<p>${SAMPLE_SERIES} synthetic series picked at random.</p>`) +
      charts(svgs),
  );
}

// Real training series plotted one by one are records of the private data: the report marks them so a copy
// without them (for sharing, the dossier) is cut from the same page instead of drawn a second way.
const REAL_START = '<!-- dg:real-series -->';
const REAL_ELSE = '<!-- dg:real-series-else ';
const REAL_END = '<!-- /dg:real-series -->';

/** Content that shows real series, with what a copy without them shows instead (HTML, no `-->`). */
function realSeriesBlock(html: string, instead = ''): string {
  return `${REAL_START}${html}${REAL_ELSE}${instead.replaceAll('--', '&#45;&#45;')} -->${REAL_END}`;
}

/** The warning at the top of a report that plots real series. */
function realSeriesWarning(shown: number): string {
  return realSeriesBlock(
    `<p class="warning"><strong>This report contains real data:</strong> ${shown} real training series are plotted one by one (Sample series), and the other charts summarize the real series. Keep it with the data; to share the evaluation, use a copy without real series (the app's dossier, or <code>dg evaluate --without-real-series</code>).</p>`,
    '<p class="note">This copy of the report leaves out the real series that the full report plots one by one; its other charts still summarize the real data.</p>',
  );
}

/** A report with its real series cut out (their place shows what the report gave instead); null for a report written before the marks existed. */
export function withoutRealSeries(html: string): string | null {
  if (!html.includes(REAL_START)) return null;
  return html.replace(/<!-- dg:real-series -->[\s\S]*?<!-- dg:real-series-else ([\s\S]*?) --><!-- \/dg:real-series -->/g, (_, instead: string) => instead.replaceAll('&#45;&#45;', '--'));
}

function classifierSection(metrics: Metrics): string {
  const d = metrics.synthetic.discriminative;
  const h = metrics.holdout?.discriminative;
  let body = table(
    ['comparison', 'test accuracy', 'score |acc - 0.5|', 'train accuracy', 'series per class', 'test series'],
    [
      ['real vs synthetic', d.accuracy, d.score, d.trainAccuracy, d.perClass, d.testSize],
      ...(h ? [['real vs holdout', h.accuracy, h.score, h.trainAccuracy, h.perClass, h.testSize] as Array<string | number>] : []),
    ],
  );
  const t = metrics.tstr;
  if (t) {
    body += table(
      ['target', 'TRTR accuracy', 'TSTR accuracy', 'TSTR / TRTR', 'majority guess', 'classes', 'test set'],
      [[t.target, t.trtr, t.tstr, t.ratio, t.majority, t.classes, `${t.testSize} real series (${t.testSet === 'holdout' ? 'holdout' : '30% of the real data; the generator may have seen them'})`]],
    );
  } else if (metrics.tstrSkipped) {
    body += `<p>TSTR skipped: ${escapeHtml(metrics.tstrSkipped)}</p>`;
  }
  return section(
    'Classifiers',
    '<p>Discriminative score: a one-hidden-layer network sees each series (standardised), its summary statistics and its attributes, trains on 70% of a balanced real/synthetic set and is tested on the other 30%. ' +
      'TSTR: a logistic regression predicts the target attribute from per-series statistics and a coarse shape of the series, trained on synthetic (TSTR) or real (TRTR) series, tested on the same real series.</p>' +
      body,
  );
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #212529; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #dee2e6; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f1f3f5; } td:first-child, th:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 0.5rem; } figure { margin: 0; }
.verdict-faithful { color: #2b8a3e; } .verdict-approximate { color: #e67700; } .verdict-unfaithful { color: #c92a2a; font-weight: 600; }
.summary { background: #f8f9fa; padding: 0.8rem 1rem; border-left: 4px solid #1f6fb4; }
.note { color: #495057; font-size: 0.85rem; }
.warning { background: #fff4e6; padding: 0.6rem 1rem; border-left: 4px solid #e67700; }
`;

function headlineTable(metrics: Metrics): string {
  const rows = headlines(metrics);
  const body = rows
    .map(
      (row) =>
        `<tr><td>${escapeHtml(row.label)}</td><td>${escapeHtml(row.aspect)}</td><td>${formatNumber(row.value)}</td><td>${formatNumber(row.holdout)}</td><td>${row.referenceName && row.referenceName !== 'holdout' ? `${formatNumber(row.reference)} (${escapeHtml(row.referenceName)})` : ''}</td>` +
        `<td>${row.key === 'tstrRatio' ? '&ge; ' : '&le; '}${formatNumber(row.good)}</td><td>${row.key === 'tstrRatio' ? '&lt; ' : '&gt; '}${formatNumber(row.poor)}</td>` +
        `<td class="verdict-${row.verdict ?? 'none'}">${row.verdict ?? 'n/a'}</td><td class="note">${escapeHtml(row.description)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>metric</th><th>aspect</th><th>synthetic</th><th>holdout</th><th>other yardstick</th><th>faithful</th><th>unfaithful</th><th>verdict</th><th>meaning</th></tr></thead><tbody>${body}</tbody></table>`;
}

/**
 * A self-contained HTML fidelity report (inline SVG charts; opens offline, without scripts). `sections`
 * are more sections, already rendered (e.g. core/privacy/report-section.ts's privacyReportSection), placed
 * after the fidelity ones; `lead` is rendered HTML placed right under the fidelity verdict (the verdict on
 * sharing, so both answers are on the first screen).
 */
export function renderReport(
  metrics: Metrics,
  data: { real: Dataset; synthetic: Dataset; holdout?: Dataset },
  title = 'Fidelity report',
  sections: readonly string[] = [],
  lead = '',
  options: { realSeries?: boolean } = {},
): string {
  const html = renderFullReport(metrics, data, title, sections, lead);
  return options.realSeries === false ? withoutRealSeries(html)! : html;
}

function renderFullReport(metrics: Metrics, data: { real: Dataset; synthetic: Dataset; holdout?: Dataset }, title: string, sections: readonly string[], lead: string): string {
  const real = toPlain(data.real, data.real, 'real');
  const synthetic = toPlain(data.synthetic, data.real, 'synthetic');
  const holdout = data.holdout ? toPlain(data.holdout, data.real, 'holdout') : null;
  const sizes = metrics.sizes;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${sizes.real} real training series, ${sizes.synthetic} synthetic series${sizes.holdout !== null ? `, ${sizes.holdout} real holdout series` : ''}; longest real series ${sizes.longestRealSeries} steps. Seed ${metrics.seed}.</p>
${realSeriesWarning(Math.min(SAMPLE_SERIES, real.lengths.length))}
<p class="summary">${escapeHtml(summarize(metrics))}</p>
${lead}
${section('Metrics', headlineTable(metrics) + '<p class="note">"faithful": at or below the first threshold, or below the second and within 1.25x of the holdout (two real samples differ that much too) or of the other yardstick; "unfaithful": above the second threshold, whatever the yardstick (the thresholds are floors). The holdout has its own sampling noise, larger when it has fewer series than the synthetic data.</p>')}
${acfSection(metrics)}
${marginalSection(metrics, real, synthetic, holdout)}
${attributeSection(metrics, real, synthetic, holdout)}
${dependenceSection(metrics)}
${crossCorrelationSection(metrics)}
${lengthSection(metrics, real, synthetic)}
${samplesSection(metrics, real, synthetic)}
${classifierSection(metrics)}
${sections.join('\n')}
<p class="note">Methods: autocorrelation, attribute and feature marginals, length, dependence and cross-correlation as in DoppelGANger (Lin et al., IMC 2020); ACD, MDD, skewness/kurtosis differences and the discriminative score as in TSGBench (Ang et al., VLDB 2024); KS complement as in SDMetrics.</p>
</body></html>
`;
}

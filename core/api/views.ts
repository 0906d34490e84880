/**
 * What the app's result screens show, as plain data: pure functions from an evaluation's Metrics, its
 * PrivacyReview, the datasets and the run's settings to view models (rows with verdicts, a paragraph,
 * chart series, a sharing recommendation with its reasons). The renderer draws them and decides
 * nothing; the verdicts and the words come from core/eval/summary.ts and core/privacy/review.ts.
 */
import type { Dataset } from '../data/types.ts';
import { pooled, toPlain } from '../eval/extract.ts';
import { displayRange, histogramShares, labelShares } from '../eval/histogram.ts';
import type { Metrics } from '../eval/metrics.ts';
import { aspectVerdicts, formatNumber, type HeadlineRow, headlines, summaryParts, USE_WORDS, type Verdict } from '../eval/summary.ts';
import { formatDelta } from '../privacy/dp.ts';
import {
  aucHalfWidth,
  attackExposes,
  attackInconclusive,
  attackVerdict,
  describeAttack,
  DP_NOT_COVERED,
  dpMembershipBound,
  seriesForConclusiveAuc,
  type NamedAttack,
  type PrivacyReview,
  WHAT_TO_SHARE,
} from '../privacy/review.ts';
import { escapeHtml, section } from '../util/html.ts';
import { Rng } from '../util/rng.ts';

const percent = (x: number) => `${(100 * x).toFixed(x < 0.01 && x > 0 ? 1 : 0)}%`;
const aucText = (a: { auc: number; aucLow: number; aucHigh: number }) => `${a.auc.toFixed(2)} [${a.aucLow.toFixed(2)}, ${a.aucHigh.toFixed(2)}]`;

// ---- fidelity

/** A headline row as the screen shows it: the row without its thresholds, and the numbers in words. */
export interface HeadlineView extends Omit<HeadlineRow, 'good' | 'poor'> {
  /** The numbers as the screen shows them. */
  valueText: string;
  /** "holdout 0.12" or "sampling noise 0.18"; "" without a yardstick. */
  yardstickText: string;
  /** "faithful at or below 0.1, unfaithful above 0.3". */
  thresholdText: string;
}

export interface FidelityView {
  /** One paragraph: what the data is good enough for, faithful where, not faithful where, the largest departures. */
  verdict: string;
  /** The same in parts, for a screen: each use with its verdict and words (best first), then the explanation. */
  uses: Array<{ use: string; verdict: Verdict; words: string }>;
  details: string;
  sizes: Metrics['sizes'];
  aspects: Array<{ aspect: string; verdict: Verdict }>;
  /** How many aspects got each verdict. */
  counts: Record<Verdict, number>;
  headlines: HeadlineView[];
  /** Real vs synthetic classifier accuracy (0.5: indistinguishable) and the same for two real samples. */
  discriminative: { accuracy: number; holdoutAccuracy: number | null };
}

export function fidelityView(metrics: Metrics): FidelityView {
  const rows = headlines(metrics);
  const aspects = aspectVerdicts(rows);
  const counts: Record<Verdict, number> = { faithful: 0, approximate: 0, unfaithful: 0 };
  for (const a of aspects) counts[a.verdict]++;
  const parts = summaryParts(metrics);
  return {
    verdict: parts.paragraph,
    uses: parts.uses.map((u) => ({ ...u, words: USE_WORDS[u.verdict] })),
    details: parts.details,
    sizes: metrics.sizes,
    aspects,
    counts,
    headlines: rows.map(({ good, poor, ...row }) => {
      const higher = row.key === 'tstrRatio';
      return {
        ...row,
        valueText: formatNumber(row.value),
        yardstickText: row.reference !== null && row.referenceName ? `${row.referenceName} ${formatNumber(row.reference)}` : '',
        thresholdText: higher
          ? `faithful at ${formatNumber(good)} or more, unfaithful below ${formatNumber(poor)}`
          : `faithful at or below ${formatNumber(good)}, unfaithful above ${formatNumber(poor)}`,
      };
    }),
    discriminative: { accuracy: metrics.synthetic.discriminative.accuracy, holdoutAccuracy: metrics.holdout?.discriminative.accuracy ?? null },
  };
}

// ---- charts

export interface LineSet {
  name: 'real' | 'synthetic' | 'holdout';
  data: Array<number | null>;
}

export interface ChartsView {
  /** Mean per-series autocorrelation by lag (1..maxLag), per continuous feature. */
  autocorrelation: Array<{ feature: string; lags: number[]; lines: LineSet[] }>;
  /** Share of all values per bin (real minimum to real 99th percentile; the last bin takes the rest). */
  values: Array<{ feature: string; bins: string[]; lines: LineSet[] }>;
  /** Share of series per category (most frequent real categories first, the rest as "(other)"). */
  attributes: Array<{ attribute: string; categories: string[]; lines: LineSet[] }>;
  /** Per category, the mean of per-series means of a feature, real vs synthetic. */
  dependence: Array<{ attribute: string; feature: string; categories: string[]; lines: LineSet[]; gapText: string }>;
  /** A few whole series, real and synthetic, on one scale per feature. */
  samples: Array<{ feature: string; range: [number, number]; real: Array<{ label: string; values: number[] }>; synthetic: Array<{ label: string; values: number[] }> }>;
}

const HISTOGRAM_BINS = 40;
const MAX_CATEGORIES = 25;
export const SAMPLE_SERIES = 3;

/** Most frequent real categories first (ties by name), then categories only the other data has. */
function categoryOrder(realLabels: string[], otherLabels: string[][]): string[] {
  const counts = new Map<string, number>();
  for (const label of realLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  for (const labels of otherLabels) for (const label of labels) if (!counts.has(label)) counts.set(label, 0);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label]) => label);
}

function folded(labels: string[], all: string[]): number[] {
  const shares = labelShares(labels, all);
  if (all.length <= MAX_CATEGORIES) return shares;
  return [...shares.slice(0, MAX_CATEGORIES), shares.slice(MAX_CATEGORIES).reduce((s, v) => s + v, 0)];
}

const round = (x: number) => Number(x.toPrecision(4));

export function chartsView(metrics: Metrics, data: { real: Dataset; synthetic: Dataset; holdout?: Dataset }): ChartsView {
  const real = toPlain(data.real, data.real, 'real');
  const synthetic = toPlain(data.synthetic, data.real, 'synthetic');
  const holdout = data.holdout ? toPlain(data.holdout, data.real, 'holdout') : null;
  const holdoutAcf = metrics.holdout?.autocorrelation.perFeature;
  const autocorrelation = metrics.synthetic.autocorrelation.perFeature.map((f, i) => ({
    feature: f.feature,
    lags: f.real.map((_, j) => j + 1),
    lines: [{ name: 'real' as const, data: f.real }, { name: 'synthetic' as const, data: f.other }, ...(holdoutAcf ? [{ name: 'holdout' as const, data: holdoutAcf[i].other }] : [])],
  }));
  const values = real.featureNames.map((feature, f) => {
    const realValues = pooled(real.features[f]);
    const [lo, hi] = displayRange(realValues);
    const width = (hi - lo) / HISTOGRAM_BINS;
    const shares = (v: ArrayLike<number>) => histogramShares(v, lo, hi, HISTOGRAM_BINS).map(round);
    return {
      feature,
      bins: Array.from({ length: HISTOGRAM_BINS }, (_, b) => formatNumber(lo + (b + 0.5) * width)),
      lines: [
        { name: 'real' as const, data: shares(realValues) },
        { name: 'synthetic' as const, data: shares(pooled(synthetic.features[f])) },
        ...(holdout ? [{ name: 'holdout' as const, data: shares(pooled(holdout.features[f])) }] : []),
      ],
    };
  });
  const attributes = real.categoricalNames.map((attribute, a) => {
    const all = categoryOrder(real.categorical[a], [synthetic.categorical[a], ...(holdout ? [holdout.categorical[a]] : [])]);
    const categories = all.length > MAX_CATEGORIES ? [...all.slice(0, MAX_CATEGORIES), '(other)'] : all;
    return {
      attribute,
      categories,
      lines: [
        { name: 'real' as const, data: folded(real.categorical[a], all).map(round) },
        { name: 'synthetic' as const, data: folded(synthetic.categorical[a], all).map(round) },
        ...(holdout ? [{ name: 'holdout' as const, data: folded(holdout.categorical[a], all).map(round) }] : []),
      ],
    };
  });
  const dependence = metrics.synthetic.dependence.entries.map((entry) => {
    const shown = entry.categories.slice(0, MAX_CATEGORIES);
    return {
      attribute: entry.attribute,
      feature: entry.feature,
      categories: shown.map((c) => c.category),
      lines: [
        { name: 'real' as const, data: shown.map((c) => round(c.realMean)) },
        { name: 'synthetic' as const, data: shown.map((c) => (c.otherMean === null ? null : round(c.otherMean))) },
      ],
      gapText: `gap ${formatNumber(entry.weightedGap)} standard deviations (sampling noise alone: ${formatNumber(entry.noiseFloor)})`,
    };
  });
  // the same picks as the HTML report's "Sample series"
  const rng = new Rng(metrics.seed, 4);
  const pick = (n: number) => Array.from(rng.permutation(n).subarray(0, Math.min(SAMPLE_SERIES, n)));
  const realPick = pick(real.lengths.length);
  const syntheticPick = pick(synthetic.lengths.length);
  const labelOf = (plain: typeof real, s: number) => [plain.ids[s], ...plain.categoricalNames.map((_, a) => plain.categorical[a][s])].filter(Boolean).join(' · ');
  const samples = real.featureNames.map((feature, f) => {
    const realLines = realPick.map((s) => ({ label: labelOf(real, s), values: Array.from(real.features[f][s], round) }));
    const syntheticLines = syntheticPick.map((s) => ({ label: labelOf(synthetic, s), values: Array.from(synthetic.features[f][s], round) }));
    const all = [...realLines, ...syntheticLines].flatMap((l) => l.values);
    const range: [number, number] = [Math.min(...all), Math.max(...all)];
    if (!(range[1] > range[0])) range[1] = range[0] + 1;
    return { feature, range, real: realLines, synthetic: syntheticLines };
  });
  return { autocorrelation, values, attributes, dependence, samples };
}

// ---- privacy and the sharing recommendation

export type SharingLevel = 'team' | 'partners' | 'public';
const LEVELS: SharingLevel[] = ['team', 'partners', 'public'];
export const SHARING_LABELS: Record<SharingLevel, string> = { team: 'Within the team', partners: 'Trusted partners', public: 'Public' };

export interface SharingReason {
  text: string;
  /** 'limits': keeps the data from a wider audience; 'supports': speaks for sharing; 'note': a caution that does not change the level. */
  effect: 'limits' | 'supports' | 'note';
  /** The widest audience this finding allows (for 'limits'). */
  caps?: SharingLevel;
}

export interface SharingRecommendation {
  level: SharingLevel;
  label: string;
  /** One sentence: what to do. */
  summary: string;
  reasons: SharingReason[];
  /** What would let the data go further. */
  toWiden: string[];
}

export interface AttackView extends NamedAttack {
  /** "0.57 [0.33, 0.79]" */
  aucText: string;
  /** What the AUC and its interval mean (review.ts's words). */
  meaning: string;
  /** Finds members reliably better than guessing. */
  exposes: boolean;
  /** Does not expose, but its interval is wider than ±0.1: it cannot say "close to guessing" either. */
  inconclusive: boolean;
  /** The review's whole sentence for this attack. */
  sentence: string;
  /** "17% of members at 1% false positives" */
  lowFprText: string;
}

export interface PrivacyView {
  copies: PrivacyReview['copies'] & { text: string; verdict: 'none' | 'look-alikes' | 'copies' };
  closestRecord: (NonNullable<PrivacyReview['closestRecord']> & { text: string; verdict: 'within chance' | 'above chance' | 'below chance' }) | null;
  attacks: AttackView[];
  dp: { epsilon: number; delta: number; deltaText: string; boundAt1Percent: number; meaningful: boolean; text: string } | null;
  statements: string[];
  recommendation: SharingRecommendation;
}

/**
 * Who the synthetic data can go to, and why. The attacks and the distance test are empirical: they can
 * show leakage, never prove its absence, so publishing needs DP-SGD at an epsilon whose bound stops a
 * practical attack (review.ts's `dpMembershipBound` under 50% of members at 1% false positives).
 * - copies of training series, an attack with the synthetic data that finds members reliably, or no
 *   unseen series to test against: within the team;
 * - synthetic series lying nearer to training series than chance allows, few unseen series (wide
 *   intervals), or no useful DP bound: trusted partners at most (under an agreement);
 * - otherwise, with a useful DP bound: public.
 * An attack that needs the trained model is a note: it concerns sharing the model, not the data.
 */
export function sharingRecommendation(review: PrivacyReview): SharingRecommendation {
  const reasons: SharingReason[] = [];
  const toWiden: string[] = [];
  const limit = (caps: SharingLevel, text: string) => reasons.push({ text, effect: 'limits', caps });
  const { copies, closestRecord } = review;
  if (copies.ofTraining > (copies.ofHoldout ?? 0)) {
    limit('team', `${copies.ofTraining} of ${copies.syntheticChecked} synthetic series are copies of training series: those rows are real data.`);
    toWiden.push('Remove the copied series (or train for fewer epochs) and evaluate again.');
  } else if (copies.ofTraining > 0) {
    reasons.push({ text: `${copies.ofTraining} synthetic series match a training series, but as many match unseen series: the data has look-alike series, not leaked ones.`, effect: 'note' });
  } else {
    reasons.push({ text: `No synthetic series copies a training series (all ${copies.syntheticChecked} checked).`, effect: 'supports' });
  }
  const dataAttacks = review.attacks.filter((a) => a.needs === 'synthetic data');
  const modelAttacks = review.attacks.filter((a) => a.needs === 'trained model');
  if (review.attacks.length === 0) {
    limit('team', 'There were no unseen real series to test against, so how much the synthetic data exposes is unknown.');
    toWiden.push('Train with a holdout (the default with 100 or more series) so the review can run the membership attacks.');
  } else {
    const exposing = dataAttacks.filter(attackExposes);
    const strongest = [...dataAttacks].sort((a, b) => b.auc - a.auc)[0];
    if (exposing.length > 0) {
      const a = exposing.sort((x, y) => y.auc - x.auc)[0];
      limit('team', `An attacker holding only the synthetic data tells training series from unseen ones better than guessing (${a.name}: AUC ${aucText(a)}; 0.5 is guessing).`);
      toWiden.push('Train with DP-SGD (a target epsilon), with more series, or for fewer epochs.');
    } else if (strongest && dataAttacks.some(attackInconclusive)) {
      const widest = [...dataAttacks].sort((a, b) => aucHalfWidth(b) - aucHalfWidth(a))[0];
      reasons.push({
        text: `Attacks with the synthetic data are inconclusive: their intervals fit both guessing and exposure (strongest: ${strongest.name}, AUC ${aucText(strongest)}); about ${seriesForConclusiveAuc(widest)} unseen series a side would decide (an estimate).`,
        effect: 'note',
      });
    } else if (strongest) {
      reasons.push({
        text: `Attacks with the synthetic data do no better than guessing, reliably (strongest: ${strongest.name}, AUC ${aucText(strongest)}).`,
        effect: 'supports',
      });
    }
    for (const a of modelAttacks.filter(attackExposes))
      reasons.push({
        text: `Keep the trained model to yourselves: with its critic an attacker finds training series (AUC ${aucText(a)}). This concerns the model, not the synthetic data.`,
        effect: 'note',
      });
    if (closestRecord && closestRecord.closerToTraining > closestRecord.chanceHigh) {
      limit(
        'partners',
        `${percent(closestRecord.closerToTraining)} of synthetic series lie nearer to a training series than to an unseen one, more than a random split gives (${percent(closestRecord.chanceLow)}-${percent(closestRecord.chanceHigh)}): the generator stays near its training data.`,
      );
    } else if (closestRecord) {
      reasons.push({
        text: `Synthetic series are no nearer to training series than chance allows (${percent(closestRecord.closerToTraining)}; random split ${percent(closestRecord.chanceLow)}-${percent(closestRecord.chanceHigh)}).`,
        effect: 'supports',
      });
    }
    const perSide = review.attacks[0].members;
    if ((perSide < 200 || dataAttacks.some(attackInconclusive)) && !(review.dp && dpMembershipBound(review.dp) < 0.5)) {
      limit('partners', `The tests compared only ${perSide} unseen series with as many training series: their intervals are wide, so they could miss a leak.`);
      toWiden.push('Keep more series out of training (a larger holdout fraction) for a sharper review.');
    }
  }
  if (review.dp) {
    const bound = dpMembershipBound(review.dp);
    if (bound < 0.5) {
      reasons.push({
        text: `DP-SGD at epsilon ${review.dp.epsilon.toFixed(2)} guarantees that an attacker who holds the synthetic data or the exported model and flags 1% of unseen series finds at most ${percent(bound)} of the training series.`,
        effect: 'supports',
      });
      reasons.push({ text: DP_NOT_COVERED, effect: 'note' });
    } else {
      limit('partners', `DP-SGD at epsilon ${review.dp.epsilon.toFixed(2)} gives a guarantee too weak to stop a practical attack; publishing needs epsilon 1-3.`);
      toWiden.push('To publish, train with DP-SGD at epsilon 1-3 (fidelity drops; compare the runs).');
    }
  } else {
    limit('partners', 'Without DP-SGD nothing bounds what an attacker could learn: the tests above can show a leak but cannot prove there is none.');
    toWiden.push('To publish, train with DP-SGD at epsilon 1-3 (fidelity drops; compare the runs).');
  }
  const level = reasons.filter((r) => r.caps).reduce<SharingLevel>((lowest, r) => (LEVELS.indexOf(r.caps!) < LEVELS.indexOf(lowest) ? r.caps! : lowest), 'public');
  const summary = {
    team: 'Keep this synthetic data within the team: it is not ready to leave it.',
    partners: 'Fit to share with trusted partners under a data-sharing agreement; not fit to publish.',
    public: 'Fit to publish: the DP guarantee bounds what anyone could learn about the training series, and the tests found no leak.',
  }[level];
  // reasons that limit most first, then the rest
  reasons.sort((a, b) => (a.caps ? LEVELS.indexOf(a.caps) : 3) - (b.caps ? LEVELS.indexOf(b.caps) : 3));
  return { level, label: SHARING_LABELS[level], summary, reasons, toWiden: [...new Set(toWiden)] };
}

export function privacyView(review: PrivacyReview): PrivacyView {
  const { copies, closestRecord } = review;
  const copiesVerdict = copies.ofTraining === 0 ? 'none' : copies.ofTraining > (copies.ofHoldout ?? 0) ? 'copies' : 'look-alikes';
  return {
    copies: {
      ...copies,
      verdict: copiesVerdict,
      text:
        copies.ofTraining === 0
          ? `No synthetic series copies a training series (all ${copies.syntheticChecked} synthetic series checked against the ${copies.trainingSeries} training series).`
          : `${copies.ofTraining} of ${copies.syntheticChecked} synthetic series are copies of training series` +
            (copies.ofHoldout !== null ? ` (${copies.ofHoldout} copy an unseen series)` : '') +
            (copiesVerdict === 'copies' ? ': those rows are real data; remove them before sharing.' : ': as many copy unseen series, so these are look-alike series, not leaked ones.'),
    },
    closestRecord: closestRecord
      ? {
          ...closestRecord,
          verdict: closestRecord.closerToTraining > closestRecord.chanceHigh ? 'above chance' : closestRecord.closerToTraining < closestRecord.chanceLow ? 'below chance' : 'within chance',
          text:
            `${percent(closestRecord.closerToTraining)} of synthetic series are nearer to a training series than to an unseen one; ` +
            `splitting the same real series at random gives ${percent(closestRecord.chanceLow)} to ${percent(closestRecord.chanceHigh)} (${closestRecord.seriesPerSide} series a side).`,
        }
      : null,
    attacks: review.attacks.map((a) => ({
      ...a,
      aucText: aucText(a),
      meaning: attackVerdict(a),
      exposes: attackExposes(a),
      inconclusive: attackInconclusive(a),
      sentence: describeAttack(a),
      lowFprText: `${percent(a.tprAtLowFpr)} of members found while flagging at most ${percent(a.fpr)} of unseen series`,
    })),
    dp: review.dp
      ? (() => {
          const bound = dpMembershipBound(review.dp);
          const meaningful = bound < 0.5;
          return {
            ...review.dp,
            deltaText: formatDelta(review.dp.delta),
            boundAt1Percent: Math.min(1, bound),
            meaningful,
            text: meaningful
              ? `Trained with DP-SGD, epsilon ${review.dp.epsilon.toFixed(2)} at delta ${formatDelta(review.dp.delta)}: flagging 1% of unseen series, any attack on the synthetic data or the exported model finds at most ${percent(bound)} of the training series. ${DP_NOT_COVERED}`
              : `Trained with DP-SGD, epsilon ${review.dp.epsilon.toFixed(2)} at delta ${formatDelta(review.dp.delta)}: at that epsilon the guarantee bounds no practical attack (flagging 1% of unseen series could find ${bound >= 1 ? 'every training series' : `up to ${percent(bound)} of them`}). ${DP_NOT_COVERED}`,
          };
        })()
      : null,
    statements: review.statements,
    recommendation: sharingRecommendation(review),
  };
}

// ---- runs side by side

export interface RunSettingsView {
  iterations: number | null;
  batchSize: number | null;
  engine: string | null;
  /** The DP target, null without DP-SGD. */
  dpEpsilon: number | null;
  /** What the run spent, when it used DP-SGD. */
  epsilonSpent: number | null;
  holdoutFraction: number | null;
  /** Hidden attributes in words ("state dropped", "isp: uniform"); empty when none. */
  hidden: string[];
}

/** A run's settings as the screens show them, from its record (what was asked, the plan, what it spent). */
export function runSettingsView(run: { settings: unknown; plan: unknown; summary: unknown; engine: string | null }): RunSettingsView {
  const asked = (run.settings ?? {}) as {
    iterations?: number;
    batchSize?: number;
    holdoutFraction?: number;
    dp?: { epsilon?: number };
    hide?: Array<{ attribute: string; mode: string; minSeries?: number; target?: unknown }>;
  };
  const plan = (run.plan ?? {}) as { totalIterations?: number; batchSize?: number; engine?: string; dp?: { targetEpsilon?: number } };
  const summary = (run.summary ?? {}) as { privacy?: { epsilon?: number } | null; engine?: string };
  return {
    iterations: plan.totalIterations ?? asked.iterations ?? null,
    batchSize: plan.batchSize ?? asked.batchSize ?? null,
    engine: summary.engine ?? run.engine ?? plan.engine ?? null,
    dpEpsilon: plan.dp?.targetEpsilon ?? asked.dp?.epsilon ?? (plan.dp ? (summary.privacy?.epsilon ?? null) : null),
    epsilonSpent: summary.privacy?.epsilon ?? null,
    holdoutFraction: asked.holdoutFraction ?? null,
    hidden: hiddenWords(asked.hide ?? []),
  };
}

function hiddenWords(specs: Array<{ attribute: string; mode: string; minSeries?: number; target?: unknown }>): string[] {
  return specs.map((s) =>
    s.mode === 'drop'
      ? `${s.attribute} dropped`
      : s.mode === 'coarsen'
        ? `${s.attribute} coarsened (k = ${s.minSeries})`
        : `${s.attribute}: ${s.target === 'uniform' ? 'uniform' : 'given'} distribution`,
  );
}

export interface CompareInput {
  runId: string;
  /** The run's place among its project's runs (1 for the first). */
  number: number;
  createdAt: string;
  status: string;
  settings: RunSettingsView;
  evaluation: { id: string; syntheticId: string | null; metrics: Metrics; review: PrivacyReview } | null;
}

export interface CompareRun {
  runId: string;
  /** "Run 2: DP epsilon 8, 300 iterations" */
  label: string;
  createdAt: string;
  status: string;
  settings: RunSettingsView;
  evaluationId: string | null;
  syntheticId: string | null;
  /** Per headline metric key; empty without an evaluation. */
  metrics: Record<string, { value: number | null; valueText: string; verdict: Verdict | null }>;
  counts: Record<Verdict, number> | null;
  discriminativeAccuracy: number | null;
  strongestAttack: { name: string; needs: string; auc: number; aucText: string } | null;
  recommendation: { level: SharingLevel; label: string } | null;
}

export interface CompareView {
  runs: CompareRun[];
  /** The headline metrics, in table order. */
  metrics: Array<{ key: string; label: string; aspect: string; description: string }>;
  /** One point per evaluated run: x the strongest attack's AUC, y the real-vs-synthetic accuracy (both 0.5 is ideal). */
  tradeoff: { x: string; y: string; points: Array<{ runId: string; label: string; x: number; y: number }>; note: string };
}

export function runLabel(number: number, settings: RunSettingsView): string {
  const dp = settings.dpEpsilon !== null ? `DP epsilon ${formatNumber(settings.dpEpsilon)}` : 'no DP';
  const hidden = settings.hidden?.length ? `, hidden: ${settings.hidden.join('; ')}` : '';
  return `Run ${number}: ${dp}${settings.iterations !== null ? `, ${settings.iterations} iterations` : ''}${hidden}`;
}

/** Runs in the order given (oldest first reads best), each with its evaluation's numbers. */
export function compareView(inputs: CompareInput[]): CompareView {
  const runs = inputs.map((input): CompareRun => {
    const e = input.evaluation;
    const fidelity = e ? fidelityView(e.metrics) : null;
    const strongest = e ? [...e.review.attacks].sort((a, b) => b.auc - a.auc)[0] : undefined;
    return {
      runId: input.runId,
      label: runLabel(input.number, input.settings),
      createdAt: input.createdAt,
      status: input.status,
      settings: input.settings,
      evaluationId: e?.id ?? null,
      syntheticId: e?.syntheticId ?? null,
      metrics: Object.fromEntries((fidelity?.headlines ?? []).map((h) => [h.key, { value: h.value, valueText: h.valueText, verdict: h.verdict }])),
      counts: fidelity?.counts ?? null,
      discriminativeAccuracy: fidelity?.discriminative.accuracy ?? null,
      strongestAttack: strongest ? { name: strongest.name, needs: strongest.needs, auc: strongest.auc, aucText: aucText(strongest) } : null,
      recommendation: e ? (({ level, label }) => ({ level, label }))(sharingRecommendation(e.review)) : null,
    };
  });
  const first = inputs.find((i) => i.evaluation)?.evaluation;
  const metrics = first ? headlines(first.metrics).map(({ key, label, aspect, description }) => ({ key, label, aspect, description })) : [];
  return {
    runs,
    metrics,
    tradeoff: {
      x: 'membership exposure: strongest attack AUC (0.5 = guessing)',
      y: 'real vs synthetic told apart (0.5 = indistinguishable)',
      points: runs.flatMap((r) => (r.strongestAttack && r.discriminativeAccuracy !== null ? [{ runId: r.runId, label: r.label, x: r.strongestAttack.auc, y: r.discriminativeAccuracy }] : [])),
      note: 'Nearer the bottom left is better on both: the synthetic series are hard to tell from real ones, and attackers do no better than guessing who was in the training data.',
    },
  };
}

// ---- the dossier

/**
 * The dossier's own section (before the evaluation report's): what was trained and how, the DP
 * guarantee, and the sharing recommendation with its reasons. Escaped HTML, no scripts.
 */
export function dossierSection(input: { projectName: string; datasetName: string; runLabel: string; settings: RunSettingsView; plan: unknown; review: PrivacyReview; createdAt: string }): string {
  const { settings, review } = input;
  const privacy = privacyView(review);
  const rec = privacy.recommendation;
  const row = (k: string, v: string) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`;
  const settingsTable =
    '<table><tbody>' +
    row('project', input.projectName) +
    row('dataset', input.datasetName) +
    row('run', input.runLabel) +
    row('iterations', settings.iterations === null ? 'n/a' : String(settings.iterations)) +
    row('batch size', settings.batchSize === null ? 'n/a' : String(settings.batchSize)) +
    row('engine', settings.engine ?? 'n/a') +
    row('holdout fraction', settings.holdoutFraction === null ? 'default' : String(settings.holdoutFraction)) +
    row('differential privacy', privacy.dp ? `DP-SGD, epsilon ${privacy.dp.epsilon.toFixed(2)} at delta ${privacy.dp.deltaText}` : 'none') +
    row('hidden attributes', settings.hidden?.length ? settings.hidden.join('; ') : 'none') +
    row('dossier written', input.createdAt) +
    '</tbody></table>';
  const reasons = rec.reasons.map((r) => `<li>${r.effect === 'limits' ? '<strong>Limits:</strong> ' : r.effect === 'supports' ? 'Supports: ' : 'Note: '}${escapeHtml(r.text)}</li>`).join('');
  const widen = rec.toWiden.length ? `<p>What would let it go further:</p><ul>${rec.toWiden.map((t) => `<li>${escapeHtml(t)}</li>`).join('')}</ul>` : '';
  return (
    section(
      'Settings',
      settingsTable +
        `<details><summary>The resolved training plan</summary><pre>${escapeHtml(JSON.stringify(input.plan, (key, value) => (key === 'groupOfRow' ? undefined : value), 2))}</pre></details>`,
    ) +
    section('Sharing recommendation', `<p class="summary"><strong>${escapeHtml(rec.label)}.</strong> ${escapeHtml(rec.summary)}</p><ul>${reasons}</ul>${widen}`) +
    (privacy.dp ? section('Differential privacy', `<p>${escapeHtml(privacy.dp.text)}</p>`) : '') +
    section('What can be shared', `<p>${escapeHtml(WHAT_TO_SHARE)}</p>`)
  );
}

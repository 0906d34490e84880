/**
 * The privacy review of a synthetic dataset (shared/design/quality-and-privacy.md, "Privacy"): copies
 * of training series, distance to closest record, and membership-inference attacks that try to tell
 * training series (members) from unseen holdout series (non-members) with the synthetic data
 * (nearest generated series, GAN-Leaks; Monte-Carlo counts, Hilprecht et al.) or with the trained
 * critic (LOGAN). Each result comes with a sentence saying what it means.
 */
import type { Dataset } from '../data/types.ts';
import { quantileSorted, sorted } from '../util/stats.ts';
import { Rng } from '../util/rng.ts';
import { evaluateAttack, type AttackResult } from './attacks.ts';
import { formatDelta } from './dp.ts';
import { categoricalKeys, forEachDistance, nearCopies, pickRows, seriesVectors, type SeriesVectors } from './vectors.ts';

export interface CriticScores {
  members: Float64Array;
  nonMembers: Float64Array;
}

export interface PrivacyReviewInput {
  train: Dataset;
  /** Real series the model never saw: needed for everything but the copy check. */
  holdout?: Dataset;
  synthetic: Dataset;
  /** The trained critic's D(x) of the sampled members and non-members (white-box attack), when the model is at hand. */
  scoreWithCritic?: (members: Dataset, nonMembers: Dataset) => Promise<CriticScores>;
  /** What the run spent, when it was trained with DP-SGD. */
  dp?: { epsilon: number; delta: number };
  seed?: number;
}

export interface NamedAttack extends AttackResult {
  name: 'nearest generated series' | 'generated series nearby' | 'critic score';
  /** Who could run it: anyone with the synthetic data, or whoever has the trained model. */
  needs: 'synthetic data' | 'trained model';
}

export interface PrivacyReview {
  /** Synthetic series at most this far (Euclidean, in units of each column's training range) from a real one count as copies. */
  copyDistance: number;
  copies: { ofTraining: number; ofHoldout: number | null; syntheticChecked: number; trainingSeries: number; holdoutSeries: number | null };
  /** Holdout series that are also in the training data (left out of the membership checks). */
  holdoutInTraining: number;
  closestRecord: {
    /** Share of synthetic series nearer to a training series than to a holdout one (ties half), training sampled to the holdout's size. */
    closerToTraining: number;
    /** 2.5th and 97.5th percentiles of that share with the same real series split into two sides at random. */
    chanceLow: number;
    chanceHigh: number;
    permutations: number;
    medianToTraining: number;
    medianToHoldout: number;
    syntheticCompared: number;
    seriesPerSide: number;
  } | null;
  attacks: NamedAttack[];
  dp: { epsilon: number; delta: number } | null;
  /** The findings in plain words, most important first. */
  statements: string[];
  seed: number;
}

/** Multiply-adds one distance pass may take (~1-3 s in JavaScript on this machine). */
const DISTANCE_BUDGET = 1.5e9;
const MAX_PER_SIDE = 2000;
/** Generated x real distances kept at once (float32), and the work of the permutation test. */
const MATRIX_ENTRIES = 2e7;
const PERMUTATION_BUDGET = 4e8;
export const COPY_DISTANCE = 1e-3;

const sampleRows = (n: number, k: number, rng: Rng) => (k >= n ? Int32Array.from({ length: n }, (_, i) => i) : rng.permutation(n).subarray(0, k).sort());
const subset = (d: Dataset, rows: Int32Array): Dataset => ({ ...d, series: Array.from(rows, (i) => d.series[i]) });
const median = (x: ArrayLike<number>) => quantileSorted(sorted(x), 0.5);
const percent = (x: number) => `${(100 * x).toFixed(x < 0.01 && x > 0 ? 1 : 0)}%`;

/** An interval wider than this either side of the AUC decides nothing short of exposure. */
export const CONCLUSIVE_HALF_WIDTH = 0.1;

/** Half the width of an attack's 95% interval. */
export const aucHalfWidth = (a: Pick<AttackResult, 'aucLow' | 'aucHigh'>) => (a.aucHigh - a.aucLow) / 2;

/**
 * About how many unseen series per side would narrow the interval to +-0.1: an estimate, scaling the
 * present width as 1/sqrt(n) (the AUC's standard error does, roughly, at a fixed AUC).
 */
export function seriesForConclusiveAuc(a: Pick<AttackResult, 'aucLow' | 'aucHigh' | 'members'>): number {
  const ratio = aucHalfWidth(a) / CONCLUSIVE_HALF_WIDTH;
  return Math.ceil((a.members * ratio * ratio) / 10) * 10;
}

/** Whether the interval is too wide to call the attack close to guessing (it does not show exposure either). */
export const attackInconclusive = (a: AttackResult) => a.aucHigh >= 0.5 && !attackExposes(a) && aucHalfWidth(a) > CONCLUSIVE_HALF_WIDTH;

/** What an attack's AUC and interval mean, in words. */
export function attackVerdict(a: AttackResult): string {
  if (a.aucHigh < 0.5) return 'below guessing (training series look less like what it uses than unseen ones do): no sign of leakage';
  if (attackInconclusive(a))
    return `inconclusive (the interval is wider than ±${CONCLUSIVE_HALF_WIDTH}, so it fits both guessing and exposure: about ${seriesForConclusiveAuc(a)} unseen series a side would narrow it to ±${CONCLUSIVE_HALF_WIDTH}, an estimate)`;
  if (a.aucLow <= 0.5 || a.auc < 0.55) return 'close to guessing';
  if (a.auc < 0.6) return 'slightly better than guessing';
  if (a.auc < 0.7) return 'better than guessing: training members are exposed';
  return 'far better than guessing: training members are clearly exposed';
}

export function describeAttack(a: NamedAttack): string {
  const who = a.needs === 'trained model' ? "An attacker with the trained model (its critic's score)" : `An attacker with the synthetic data (${a.name})`;
  return (
    `${who} tells training series from unseen ones with AUC ${a.auc.toFixed(2)} [${a.aucLow.toFixed(2)}, ${a.aucHigh.toFixed(2)}]: ${attackVerdict(a)}; ` +
    `flagging at most ${percent(a.fpr)} of unseen series, it finds ${percent(a.tprAtLowFpr)} of the members (${a.members} of each compared).`
  );
}

/** Whether an attack finds training members reliably better than guessing. */
export const attackExposes = (a: AttackResult) => a.aucLow > 0.5 && a.auc >= 0.55;

/** What a DP-SGD run's epsilon does not bound, said next to the guarantee wherever it is stated. */
export const DP_NOT_COVERED =
  'The bound does not cover what the run read from the data outside the accountant (value ranges, category lists, series counts and lengths: the training plan names them), ' +
  "nor the run folder's training log, its run.json (held-out series ids, the unnoised membership monitor) and the full report, which plots real series: keep those with the data.";

/** (epsilon, delta)-DP: any test's true-positive rate <= e^epsilon x its false-positive rate + delta. */
/**
 * What a release may contain, said with every review: the synthetic data and the exported model file hold
 * no training series, ids or counts; the run folder does (and its critics are the strongest attack).
 */
export const WHAT_TO_SHARE =
  'What can be shared: the synthetic data and the exported model file (.dgm: the generator and the public schema only). ' +
  'Not the run folder: its checkpoint holds the critics, which tell training series from others best, ' +
  'and run.json the holdout series ids, the training counts and the membership exposure measured without noise.';

export const dpMembershipBound = (dp: { epsilon: number; delta: number }, falsePositiveRate = 0.01) => Math.exp(dp.epsilon) * falsePositiveRate + dp.delta;

export async function reviewPrivacy(input: PrivacyReviewInput): Promise<PrivacyReview> {
  const seed = input.seed ?? 0;
  const rng = new Rng(seed, 11);
  const { train, holdout, synthetic } = input;
  if (synthetic.series.length === 0) throw new Error('the privacy review needs synthetic series');
  const [trainVectors, holdoutVectors, syntheticVectors] = seriesVectors(train, train, holdout ?? { ...train, series: [] }, synthetic);
  const { dim } = trainVectors;
  const statements: string[] = [];

  // copies: every synthetic series against every training (and holdout) series
  const syntheticKeys = categoricalKeys(synthetic);
  const copiesIn = (references: SeriesVectors, keys: string[]) => nearCopies(syntheticVectors, syntheticKeys, references, keys, COPY_DISTANCE).reduce((a, x) => a + x, 0);
  const trainKeys = categoricalKeys(train);
  const copies = {
    ofTraining: copiesIn(trainVectors, trainKeys),
    ofHoldout: holdout ? copiesIn(holdoutVectors, categoricalKeys(holdout)) : null,
    syntheticChecked: syntheticVectors.n,
    trainingSeries: trainVectors.n,
    holdoutSeries: holdout ? holdoutVectors.n : null,
  };
  const checkedWhat = `all ${copies.syntheticChecked} synthetic series checked against the ${copies.trainingSeries} training series`;
  if (copies.ofTraining === 0) {
    statements.push(`No synthetic series copies a training series (${checkedWhat}).`);
  } else {
    const holdoutNote =
      copies.ofHoldout !== null ? ` (and ${copies.ofHoldout} copy an unseen holdout series: as many as that would mean the data has look-alike series, not that training data leaked)` : '';
    statements.push(
      `${copies.ofTraining} synthetic series (${percent(copies.ofTraining / copies.syntheticChecked)}) are copies of training series${holdoutNote}: those rows are real data; remove them before sharing (${checkedWhat}).`,
    );
  }

  let closestRecord: PrivacyReview['closestRecord'] = null;
  const attacks: NamedAttack[] = [];
  // holdout series that are also in the training data are not unseen: they would hide the risk
  const inTraining = holdout ? nearCopies(holdoutVectors, categoricalKeys(holdout), trainVectors, trainKeys, COPY_DISTANCE) : new Uint8Array(0);
  const unseenRows = Int32Array.from(Array.from(inTraining).flatMap((x, i) => (x ? [] : [i])));
  const overlap = inTraining.length - unseenRows.length;
  if (overlap > 0) {
    statements.push(`${overlap} of the ${inTraining.length} holdout series also appear in the training data, so they are not unseen: the membership checks leave them out.`);
  }
  if (!holdout || unseenRows.length === 0) {
    statements.push('No unseen real series to compare with, so no membership attacks: train with a holdout (the default with 100+ series) or give a holdout file.');
  } else {
    const perSide = Math.min(train.series.length, unseenRows.length, MAX_PER_SIDE);
    const memberRows = sampleRows(train.series.length, perSide, rng);
    const nonMemberRows = Int32Array.from(sampleRows(unseenRows.length, perSide, rng), (k) => unseenRows[k]);
    const members = pickRows(trainVectors, memberRows);
    const nonMembers = pickRows(holdoutVectors, nonMemberRows);
    // one distance matrix, generated x real (members then non-members), serves all three comparisons
    const realCount = 2 * perSide;
    const syntheticCompared = Math.min(synthetic.series.length, Math.max(200, Math.floor(Math.min(DISTANCE_BUDGET / (realCount * dim), MATRIX_ENTRIES / realCount))));
    const generated = pickRows(syntheticVectors, sampleRows(syntheticVectors.n, syntheticCompared, rng));
    const real: SeriesVectors = { n: realCount, dim, data: new Float32Array(realCount * dim) };
    real.data.set(members.data);
    real.data.set(nonMembers.data, perSide * dim);
    const distances = new Float32Array(generated.n * realCount);
    forEachDistance(real, generated, (i, j, d) => {
      distances[j * realCount + i] = d;
    });
    const isMember = new Uint8Array(realCount).fill(1, 0, perSide);
    const closestRecordShare = (memberMask: Uint8Array) => {
      let closer = 0;
      for (let j = 0; j < generated.n; j++) {
        let toMember = Infinity;
        let toNonMember = Infinity;
        for (let i = 0, row = j * realCount; i < realCount; i++) {
          const d = distances[row + i];
          if (memberMask[i]) toMember = Math.min(toMember, d);
          else toNonMember = Math.min(toNonMember, d);
        }
        closer += toMember < toNonMember ? 1 : toMember === toNonMember ? 0.5 : 0;
      }
      return closer / generated.n;
    };
    const share = closestRecordShare(isMember);
    // chance: the same share with the real series split at random (members and non-members are
    // exchangeable when the generator does not favour its training data)
    const permutations = Math.max(20, Math.min(200, Math.floor(PERMUTATION_BUDGET / distances.length)));
    const nullShares = Float64Array.from({ length: permutations }, () => {
      const order = rng.permutation(realCount);
      const mask = new Uint8Array(realCount);
      for (let k = 0; k < perSide; k++) mask[order[k]] = 1;
      return closestRecordShare(mask);
    }).sort();
    const nearestOf = (from: number, to: number) => {
      const out = new Float64Array(generated.n);
      for (let j = 0; j < generated.n; j++) {
        let best = Infinity;
        for (let i = from; i < to; i++) best = Math.min(best, distances[j * realCount + i]);
        out[j] = best;
      }
      return out;
    };
    closestRecord = {
      closerToTraining: share,
      chanceLow: nullShares[Math.floor(0.025 * (permutations - 1))],
      chanceHigh: nullShares[Math.ceil(0.975 * (permutations - 1))],
      permutations,
      medianToTraining: median(nearestOf(0, perSide)),
      medianToHoldout: median(nearestOf(perSide, realCount)),
      syntheticCompared: generated.n,
      seriesPerSide: perSide,
    };
    const { chanceLow, chanceHigh } = closestRecord;
    const leaning =
      share > chanceHigh
        ? 'more than chance: the generator stays near its training series'
        : share < chanceLow
          ? 'fewer than chance would give'
          : 'within chance: no sign that the generator favours its training data';
    statements.push(
      `${percent(share)} of synthetic series are nearer to a training series than to an unseen one (${perSide} real series a side; ` +
        `splitting the same real series at random gives ${percent(chanceLow)}-${percent(chanceHigh)}): ${leaning}.`,
    );

    // GAN-Leaks: the nearer a series' nearest generated series, the likelier it was trained on
    const toGenerated = new Float64Array(realCount).fill(Infinity);
    for (let j = 0; j < generated.n; j++) for (let i = 0; i < realCount; i++) toGenerated[i] = Math.min(toGenerated[i], distances[j * realCount + i]);
    const negated = toGenerated.map((d) => -d);
    attacks.push({ name: 'nearest generated series', needs: 'synthetic data', ...evaluateAttack(negated.subarray(0, perSide), negated.subarray(perSide), seed) });
    // Monte-Carlo: share of generated series within the median nearest distance
    const radius = median(toGenerated);
    const nearby = new Float64Array(realCount);
    for (let j = 0; j < generated.n; j++) for (let i = 0; i < realCount; i++) if (distances[j * realCount + i] <= radius) nearby[i] += 1 / generated.n;
    attacks.push({ name: 'generated series nearby', needs: 'synthetic data', ...evaluateAttack(nearby.subarray(0, perSide), nearby.subarray(perSide), seed + 1) });
    let criticFailure: string | undefined;
    if (input.scoreWithCritic) {
      try {
        const scores = await input.scoreWithCritic(subset(train, memberRows), subset(holdout, nonMemberRows));
        attacks.push({ name: 'critic score', needs: 'trained model', ...evaluateAttack(scores.members, scores.nonMembers, seed + 2) });
      } catch (error) {
        criticFailure = error instanceof Error ? error.message : String(error);
      }
    }
    for (const attack of attacks) statements.push(describeAttack(attack));
    if (criticFailure) statements.push(`The attack with the trained critic could not run (${criticFailure}).`);
    if (perSide < 200) statements.push(`With ${perSide} unseen series the intervals are wide: keep more series out of training (a larger holdout fraction) for a sharper review.`);
  }

  const exposed = attacks.some(attackExposes) || copies.ofTraining > (copies.ofHoldout ?? 0);
  if (input.dp) {
    const bound = dpMembershipBound(input.dp);
    const spent = `The model was trained with DP-SGD spending epsilon ${input.dp.epsilon.toFixed(2)} at delta ${formatDelta(input.dp.delta)}`;
    statements.push(
      bound < 0.5
        ? `${spent}: for anything computed from the model's weights alone (this synthetic data, an exported model), a test that flags 1% of unseen series finds at most ${percent(bound)} of the members.`
        : `${spent}: at that epsilon the guarantee bounds no practical attack (flagging 1% of unseen series could find ${bound >= 1 ? 'every' : `up to ${percent(bound)} of the`} member${bound >= 1 ? '' : 's'}); epsilon 1-3 gives one that does, at a cost in fidelity.`,
      DP_NOT_COVERED,
    );
  } else if (exposed) {
    statements.push('What would lower the risk: more training series, DP-SGD (a target epsilon), fewer training epochs.');
  }
  statements.push(WHAT_TO_SHARE);
  return { copyDistance: COPY_DISTANCE, copies, holdoutInTraining: overlap, closestRecord, attacks, dp: input.dp ?? null, statements, seed };
}

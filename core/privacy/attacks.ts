/**
 * How well a membership score separates training members from unseen series: ROC AUC (the
 * Mann-Whitney statistic, ties counted half) with a stratified bootstrap interval, and the true-positive
 * rate at a low false-positive rate (where an attack matters: a few members identified with confidence).
 */
import { Rng } from '../util/rng.ts';

export interface AttackResult {
  auc: number;
  /** 95% stratified bootstrap percentile interval of the AUC. */
  aucLow: number;
  aucHigh: number;
  /** Share of members scored above every threshold that flags at most `fpr` of the non-members. */
  tprAtLowFpr: number;
  /** The false-positive rate it was taken at: 1%, or 1 / non-members when there are fewer than 100. */
  fpr: number;
  members: number;
  nonMembers: number;
}

/** P(score of a random member > score of a random non-member) + half the ties. */
export function rocAuc(members: ArrayLike<number>, nonMembers: ArrayLike<number>): number {
  const all = [...Array.from(members, (s) => ({ s, m: 1 })), ...Array.from(nonMembers, (s) => ({ s, m: 0 }))].sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0)); // -Infinity scores too
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].s === all[i].s) j++;
    const midrank = (i + 1 + j) / 2; // ranks i+1..j share their mean
    for (let k = i; k < j; k++) if (all[k].m) rankSum += midrank;
    i = j;
  }
  const m = members.length;
  const n = nonMembers.length;
  return (rankSum - (m * (m + 1)) / 2) / (m * n);
}

/** Share of members strictly above the (1 - fpr) quantile threshold of the non-members' scores. */
export function tprAtFpr(members: ArrayLike<number>, nonMembers: ArrayLike<number>, fpr: number): number {
  const sorted = Float64Array.from(nonMembers).sort();
  // the smallest threshold with at most floor(fpr n) non-members above it
  const allowed = Math.floor(fpr * sorted.length + 1e-9);
  const threshold = sorted[sorted.length - 1 - allowed];
  let above = 0;
  for (let i = 0; i < members.length; i++) if (members[i] > threshold) above++;
  return above / members.length;
}

export function evaluateAttack(members: Float64Array, nonMembers: Float64Array, seed: number, resamples = 400): AttackResult {
  if (members.length === 0 || nonMembers.length === 0) throw new Error('a membership attack needs members and non-members to score');
  const rng = new Rng(seed, 7);
  const aucs = new Float64Array(resamples);
  const bm = new Float64Array(members.length);
  const bn = new Float64Array(nonMembers.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < bm.length; i++) bm[i] = members[rng.int(members.length)];
    for (let i = 0; i < bn.length; i++) bn[i] = nonMembers[rng.int(nonMembers.length)];
    aucs[r] = rocAuc(bm, bn);
  }
  aucs.sort();
  const fpr = Math.max(0.01, 1 / nonMembers.length);
  return {
    auc: rocAuc(members, nonMembers),
    aucLow: aucs[Math.floor(0.025 * (resamples - 1))],
    aucHigh: aucs[Math.ceil(0.975 * (resamples - 1))],
    tprAtLowFpr: tprAtFpr(members, nonMembers, fpr),
    fpr,
    members: members.length,
    nonMembers: nonMembers.length,
  };
}

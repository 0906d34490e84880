/**
 * Fidelity evaluation: how closely synthetic series match the real ones, as numbers (evaluate) and as a
 * self-contained HTML report (renderReport).
 */

export { evaluate, DEFAULT_MAX_LAG, ACD_MAX_LAGS } from './evaluate.ts';
export type { EvaluateOptions } from './evaluate.ts';
export type * from './metrics.ts';
export type { CategoryComparison } from './dependence.ts';
export type { DiscriminativeResult } from './discriminative.ts';
export type { TstrResult } from './tstr.ts';
export { renderReport, withoutRealSeries } from './report.ts';
export { summarize, usesVerdict, headlines, aspectVerdicts, HEADLINE_METRICS } from './summary.ts';
export type { HeadlineRow, Verdict } from './summary.ts';

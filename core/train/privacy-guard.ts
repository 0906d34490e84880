/**
 * The privacy guard: when to stop a run that starts to memorize its training series, and which of its
 * states to keep. Pure (no engine, no files): core/api/training.ts feeds it the exposure monitor's
 * readings (the critic's membership AUC, training vs held-out series, every 1% of the run;
 * core/privacy/exposure.ts) and keeps the state it names.
 *
 * Why: long training on few series memorizes them (on MBA's 480 series a membership attack on the
 * synthetic data rose from AUC 0.58 at 2,000 iterations to 0.65 at the default 20,000, one with the run's
 * critic from 0.60 to 0.73; bench/PRIVACY.md), and a custodian who accepts the defaults should not be exposed.
 *
 * The monitored AUC is noisy (a few dozen held-out series on a small dataset: about ±0.05 per reading),
 * so one high reading decides nothing:
 * - the guard judges the rise of the AUC over its level early in the run (the mean of the first
 *   `baselineReadings` readings, before the model has seen any series often enough to memorize it), not
 *   its level: a few dozen held-out series can differ from the training ones by chance, and the critic
 *   tells them apart from the start (on MBA with seed 2, AUC 0.60 at iteration 200; bench/PRIVACY.md);
 * - it judges the mean of the last `window` readings, not a single one;
 * - it stops only after `persistence` consecutive smoothed readings above the bound;
 * - it never stops before `minIterations` (early critics are erratic, and too short a run is not worth
 *   keeping for its fidelity);
 * - it keeps the last state whose smoothed AUC was within the bound (the latest such state: the longest
 *   trained, so the best fidelity the bound allows), not the state that crossed it.
 */

export interface GuardSettings {
  /** Rise of the smoothed critic membership AUC over its early level beyond which the run counts as memorizing. */
  rise: number;
  /** Readings whose mean is the early level (0: the level is 0.5, guessing). */
  baselineReadings: number;
  /** Readings averaged. */
  window: number;
  /** Consecutive smoothed readings above the bound that stop the run. */
  persistence: number;
  /** The guard stops nothing before this many iterations. */
  minIterations: number;
}

/**
 * Calibrated on MBA (bench/PRIVACY.md, "private by default"): with an absolute bound of 0.57 the runs
 * that stopped near 0.56 (a rise of about 0.08 over their early 0.48) still left the synthetic-data
 * attacks at AUC 0.62-0.67, so the rise allowed is 0.07; the early level is the first 5 readings (1-5%
 * of the run); 5 readings smoothed (5% of the run) and 3 in a row above the bound (a reading's noise is
 * about ±0.05, the smoothed mean's about half).
 */
export const DEFAULT_GUARD: Omit<GuardSettings, 'minIterations'> = { rise: 0.07, baselineReadings: 5, window: 5, persistence: 3 };

/** The guard never stops a run before this share of it (nor before MIN_GUARD_ITERATIONS). */
export const MIN_GUARD_SHARE = 0.1;
/** On MBA 2,000 iterations left the discriminative score at 0.30 (bench/PRIVACY.md): not worth stopping earlier. */
export const MIN_GUARD_ITERATIONS = 2000;

export function guardSettings(totalIterations: number): GuardSettings {
  return { ...DEFAULT_GUARD, minIterations: Math.min(totalIterations, Math.max(MIN_GUARD_ITERATIONS, Math.round(MIN_GUARD_SHARE * totalIterations))) };
}

/**
 * Without a holdout there is nothing to monitor: a default schedule is capped at this many epochs
 * instead. On MBA 1,250 epochs (5,000 iterations) left the synthetic-data attacks at AUC 0.59 and 500
 * epochs at 0.56 (bench/PRIVACY.md); a smaller dataset is seen more often per iteration, so the cap is
 * in epochs, below the measured point, to stay on the safe side.
 */
export const UNMONITORED_EPOCH_CAP = 1000;

export interface GuardState {
  /** The first `baselineReadings` readings (the early level). */
  early: number[];
  /** Readings so far, oldest first (only the last `window` matter). */
  recent: number[];
  /** Consecutive smoothed readings above the bound. */
  over: number;
  /** The last reading whose smoothed AUC was within the bound: the state to keep; null before the first. */
  safe: { iteration: number; smoothed: number } | null;
  /** Highest smoothed AUC seen. */
  peak: number;
}

export const initialGuardState = (): GuardState => ({ early: [], recent: [], over: 0, safe: null, peak: Number.NEGATIVE_INFINITY });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The smoothed AUC above which the run counts as memorizing; null while the early level is being read. */
export function guardBound(settings: GuardSettings, state: GuardState): number | null {
  if (settings.baselineReadings === 0) return 0.5 + settings.rise;
  return state.early.length < settings.baselineReadings ? null : mean(state.early) + settings.rise;
}

export type GuardDecision =
  /** Keep training; `keep` says to remember the state at this reading (it is the new safe one). */
  | { action: 'continue'; keep: boolean; smoothed: number }
  /** Stop: keep the state of `keepIteration` (null: no reading was ever within the bound). */
  | { action: 'stop'; keepIteration: number | null; keptSmoothed: number | null; smoothed: number };

/** One reading at `iteration`: the new state and what to do. */
export function guardStep(settings: GuardSettings, state: GuardState, iteration: number, auc: number): { state: GuardState; decision: GuardDecision } {
  const early = state.early.length < settings.baselineReadings ? [...state.early, auc] : state.early;
  const recent = [...state.recent, auc].slice(-settings.window);
  const smoothed = mean(recent);
  const bound = guardBound(settings, { ...state, early });
  // while the early level is being read nothing can be judged (and nothing stopped: minIterations is later)
  const within = bound === null || smoothed <= bound;
  const next: GuardState = {
    early,
    recent,
    over: within ? 0 : state.over + 1,
    safe: within ? { iteration, smoothed } : state.safe,
    peak: Math.max(state.peak, smoothed),
  };
  // a short window at the start averages fewer readings: it may mark a state safe, never stop on it
  const settled = recent.length >= settings.window;
  if (!within && settled && next.over >= settings.persistence && iteration >= settings.minIterations) {
    return { state: next, decision: { action: 'stop', keepIteration: next.safe?.iteration ?? null, keptSmoothed: next.safe?.smoothed ?? null, smoothed } };
  }
  return { state: next, decision: { action: 'continue', keep: within, smoothed } };
}

/** What the guard did in a run: in run.json, the run's summary and the CLI's last line. */
export interface GuardOutcome {
  /**
   * stopped: exposure crossed the bound and the run kept an earlier state; held: it never did (the full
   * schedule ran); capped: no holdout to monitor, a default schedule was shortened; off: turned off;
   * dp: not used under DP-SGD; unmonitored: no holdout and nothing to cap; watching: the run has not ended.
   */
  status: 'watching' | 'stopped' | 'held' | 'capped' | 'off' | 'dp' | 'unmonitored';
  /** Plain words: what was chosen and why. */
  message: string;
  bound?: number;
  /** Iteration of the kept state (stopped). */
  keptIteration?: number;
  /** Smoothed AUC of the kept state (stopped) or at the end (held). */
  keptExposure?: number;
  /** Iteration at which it stopped (stopped). */
  stoppedAt?: number;
  /** Highest smoothed AUC seen. */
  peakExposure?: number;
}

export interface GuardPlanInput {
  /** The privacyGuard setting (default on); settings replace the defaults (tests, calibration). */
  requested: boolean | Partial<GuardSettings>;
  dp: boolean;
  /** Whether the exposure monitor can run (a holdout large enough; core/privacy/exposure.ts). */
  monitored: boolean;
  /** Whether the length came from the defaults (no iterations or epochs given). */
  lengthDefaulted: boolean;
  iterations: number;
  iterationsPerEpoch: number;
}

export interface GuardPlan {
  /** The settings to watch the exposure with during the run (plan.privacyGuard); absent: not watched. */
  watch?: GuardSettings;
  /** The run's length, capped when nothing can be watched. */
  iterations: number;
  /** What the guard does, said before training starts ('watching' until the run ends). */
  outcome: GuardOutcome;
}

const pct = (x: number) => x.toFixed(2);

/** What the guard will do for a run, decided before it starts. */
export function planGuard(input: GuardPlanInput): GuardPlan {
  const { iterations } = input;
  if (input.requested === false) return { iterations, outcome: { status: 'off', message: 'privacy guard off: the full schedule runs, however much the model memorizes' } };
  if (input.dp) {
    // the monitor scores training series with the unnoised critic: a stop decided on it would depend on
    // the private data outside the DP accounting, so DP-SGD runs are left to their guarantee
    return {
      iterations,
      outcome: {
        status: 'dp',
        message: 'privacy guard not used under DP-SGD: the guarantee already bounds what any attack learns, and stopping on the critic’s unnoised scores of training series would leak them outside it',
      },
    };
  }
  if (input.monitored) {
    const s = { ...guardSettings(iterations), ...(input.requested === true ? {} : input.requested) };
    return {
      watch: s,
      iterations,
      outcome: {
        status: 'watching',
        message:
          `privacy guard: stops the run once the critic’s membership AUC on the held-out series (mean of the last ${s.window} readings, one every 1% of the run) ` +
          `stays more than ${pct(s.rise)} above its early level (${s.baselineReadings ? `the mean of its first ${s.baselineReadings} readings` : 'taken as 0.5'}) for ${s.persistence} readings ` +
          `(not before iteration ${s.minIterations}), and keeps the last checkpoint within that bound`,
      },
    };
  }
  const cap = UNMONITORED_EPOCH_CAP * input.iterationsPerEpoch;
  if (input.lengthDefaulted && iterations > cap) {
    return {
      iterations: cap,
      outcome: {
        status: 'capped',
        message:
          `privacy guard: no holdout to watch the model memorize (fewer than 20 series held out), so the default schedule is capped at ${UNMONITORED_EPOCH_CAP} epochs ` +
          `(${cap} iterations instead of ${iterations}); hold out 20 or more series to let the guard watch a longer run, or turn it off for the full schedule`,
      },
    };
  }
  return {
    iterations,
    outcome: {
      status: 'unmonitored',
      message: input.lengthDefaulted
        ? `privacy guard: no holdout to watch, and the default schedule (${iterations} iterations) is within its cap of ${UNMONITORED_EPOCH_CAP} epochs`
        : 'privacy guard: no holdout to watch (fewer than 20 series held out) and the length was given: it trains as asked',
    },
  };
}

/** The guard's final word on a watched run that ended. */
export function guardResult(settings: GuardSettings, state: GuardState, stop: { at: number; keptIteration: number | null; keptSmoothed: number | null } | null, totalIterations: number): GuardOutcome {
  const bound = guardBound(settings, state) ?? Number.NaN;
  if (!stop && Number.isNaN(bound)) {
    // a run (or a resumed stretch of one) too short to read the early level: nothing was judged
    return { status: 'held', peakExposure: state.peak, message: 'privacy guard: the run ended before the guard had read the critic’s early level: nothing was judged' };
  }
  const base = { bound, peakExposure: state.peak };
  const level = settings.baselineReadings ? ` (early level ${pct(mean(state.early))} + ${pct(settings.rise)})` : '';
  if (!stop) {
    const last = state.recent.length ? state.recent.reduce((a, b) => a + b, 0) / state.recent.length : Number.NaN;
    return {
      status: 'held',
      ...base,
      keptExposure: last,
      message: `privacy guard: the critic’s membership AUC on the held-out series stayed within ${pct(bound)}${level} (smoothed; peak ${pct(state.peak)}, last ${pct(last)}): the full schedule ran`,
    };
  }
  const why = `the critic’s membership AUC on the held-out series (mean of the last ${settings.window} readings) stayed above ${pct(bound)}${level} for ${settings.persistence} readings (peak ${pct(state.peak)})`;
  if (stop.keptIteration === null) {
    return {
      status: 'stopped',
      ...base,
      stoppedAt: stop.at,
      keptIteration: stop.at,
      message: `privacy guard: ${why}; training stopped at iteration ${stop.at} of ${totalIterations}, and no earlier state was within the bound: the last one is kept`,
    };
  }
  return {
    status: 'stopped',
    ...base,
    stoppedAt: stop.at,
    keptIteration: stop.keptIteration,
    keptExposure: stop.keptSmoothed ?? undefined,
    message:
      `privacy guard: ${why}; training stopped at iteration ${stop.at} of ${totalIterations} and kept the checkpoint of iteration ${stop.keptIteration} ` +
      `(smoothed AUC ${pct(stop.keptSmoothed ?? Number.NaN)}), the longest-trained one within the bound (--privacy-guard off trains the full schedule)`,
  };
}

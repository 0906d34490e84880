import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_GUARD,
  guardBound,
  guardResult,
  guardSettings,
  guardStep,
  initialGuardState,
  MIN_GUARD_ITERATIONS,
  planGuard,
  UNMONITORED_EPOCH_CAP,
  type GuardDecision,
  type GuardSettings,
} from '../core/train/privacy-guard.ts';

/** Feeds readings (one every `every` iterations) until the guard stops; the decisions and final state. */
function drive(settings: GuardSettings, aucs: number[], every = 100) {
  let state = initialGuardState();
  const decisions: GuardDecision[] = [];
  for (const [i, auc] of aucs.entries()) {
    const step = guardStep(settings, state, (i + 1) * every, auc);
    state = step.state;
    decisions.push(step.decision);
    if (step.decision.action === 'stop') break;
  }
  return { decisions, state, last: decisions.at(-1)! };
}

/** A fixed bound of 0.6 (0.5 + 0.1, no early level) */
const plain: GuardSettings = { rise: 0.1, baselineReadings: 0, window: 3, persistence: 2, minIterations: 0 };

test('the guard stops once the smoothed AUC stays above the bound, and keeps the last state within it', () => {
  // means of 3: .50 .50 .50 .55 .60 .65(over) .70(over: stop)
  const { decisions, last } = drive(plain, [0.5, 0.5, 0.5, 0.65, 0.65, 0.65, 0.8]);
  assert.equal(decisions.length, 7);
  assert.deepEqual(
    decisions.slice(0, 5).map((d) => d.action === 'continue' && d.keep),
    [true, true, true, true, true],
  );
  assert.equal(decisions[5].action, 'continue');
  assert.equal(decisions[5].action === 'continue' && decisions[5].keep, false, 'a state over the bound is not kept');
  assert.equal(last.action, 'stop');
  if (last.action !== 'stop') return;
  assert.equal(last.keepIteration, 500, 'the last reading whose mean was within the bound');
  assert.ok(Math.abs((last.keptSmoothed ?? 0) - 0.6) < 1e-12);
  assert.ok(Math.abs(last.smoothed - 0.7) < 1e-12);
});

test('one high reading does not stop a run: the mean and the persistence absorb it', () => {
  // a spike of 0.75 moves a mean of 3 to 0.58: within 0.6
  assert.ok(drive(plain, [0.5, 0.5, 0.5, 0.75, 0.5, 0.5, 0.5]).decisions.every((d) => d.action === 'continue'));
  // a spike of 0.95 holds the mean over the bound for as many readings as the window: persistence beyond it lets it pass
  assert.equal(drive(plain, [0.5, 0.5, 0.5, 0.95, 0.5, 0.5, 0.5]).last.action, 'stop');
  assert.ok(drive({ ...plain, persistence: 4 }, [0.5, 0.5, 0.5, 0.95, 0.5, 0.5, 0.5, 0.5]).decisions.every((d) => d.action === 'continue'));
  // a dip below the bound resets the count: over, within, over never reaches 2 in a row
  const zigzag = drive({ ...plain, window: 1 }, [0.7, 0.5, 0.7, 0.5, 0.7, 0.5]);
  assert.ok(zigzag.decisions.every((d) => d.action === 'continue'));
});

test('the guard never stops before its minimum length, nor on a window not yet full', () => {
  const high = Array.from({ length: 10 }, () => 0.9);
  const early = drive({ ...plain, minIterations: 700 }, high);
  assert.equal(early.decisions.length, 7, 'stops at the first reading at or after iteration 700');
  assert.equal(early.last.action === 'stop' && early.last.keepIteration, null, 'no state was ever within the bound');
  const firstWindow = drive({ ...plain, window: 4, persistence: 1 }, high);
  assert.equal(firstWindow.decisions.length, 4, 'the window fills first');
});

test("the bound is the run's early level plus the rise: a holdout that differs by chance does not stop a run", () => {
  const settings: GuardSettings = { rise: 0.1, baselineReadings: 3, window: 1, persistence: 1, minIterations: 0 };
  // early level 0.65 (a holdout the critic tells apart from the start): 0.7 is no rise worth stopping for, 0.8 is
  const biased = drive(settings, [0.6, 0.65, 0.7, 0.7, 0.72, 0.8]);
  assert.equal(biased.decisions.length, 6);
  assert.equal(biased.last.action === 'stop' && biased.last.keepIteration, 500);
  // early level 0.45: 0.6 is a rise of 0.15
  const low = drive(settings, [0.45, 0.44, 0.46, 0.5, 0.6]);
  assert.equal(low.last.action === 'stop' && low.last.keepIteration, 400);
  assert.ok(Math.abs((guardBound(settings, low.state) ?? 0) - 0.55) < 1e-12);
  assert.equal(guardBound(settings, initialGuardState()), null, 'no bound before the early level is read');
});

test('the default guard: a calibrated rise, a minimum of 10% of the run and at least 2,000 iterations', () => {
  assert.deepEqual(guardSettings(20_000), { ...DEFAULT_GUARD, minIterations: MIN_GUARD_ITERATIONS });
  assert.equal(guardSettings(100_000).minIterations, 10_000);
  assert.equal(guardSettings(500).minIterations, 500, 'a run shorter than the minimum can only stop at its end');
  // MBA's monitored AUC on seed 0 (every 200 iterations, today's default schedule): early level 0.476, crosses 0.546 near 4,000
  const mba = [
    0.505, 0.486, 0.471, 0.449, 0.469, 0.483, 0.465, 0.481, 0.5, 0.519, 0.52, 0.508, 0.488, 0.553, 0.554, 0.547, 0.546, 0.576, 0.558, 0.52, 0.562, 0.521, 0.552, 0.554, 0.559, 0.545, 0.57, 0.624,
    0.572, 0.599,
  ];
  let state = initialGuardState();
  let stop: GuardDecision | null = null;
  const settings = guardSettings(20_000);
  for (const [i, auc] of mba.entries()) {
    const step = guardStep(settings, state, 200 * (i + 1), auc);
    state = step.state;
    if (step.decision.action === 'stop') {
      stop = step.decision;
      break;
    }
  }
  assert.ok(stop?.action === 'stop');
  assert.equal(stop.keepIteration, 3400);
});

test('the outcome says what the guard did', () => {
  const s = guardSettings(20_000);
  const { state, last } = drive(s, [...Array.from({ length: 25 }, () => 0.5), ...Array.from({ length: 10 }, () => 0.7)]);
  assert.equal(last.action, 'stop');
  if (last.action !== 'stop') return;
  const stopped = guardResult(s, state, { at: 3300, keptIteration: last.keepIteration, keptSmoothed: last.keptSmoothed }, 20_000);
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.keptIteration, 2600, '(4 x 0.5 + 0.7) / 5 is still within 0.5 + 0.07');
  assert.match(stopped.message, /stopped at iteration 3300 of 20000 and kept the checkpoint of iteration 2600/);
  const held = guardResult(s, drive(s, [0.5, 0.52, 0.48, 0.5, 0.5, 0.55]).state, null, 20_000);
  assert.equal(held.status, 'held');
  assert.match(held.message, /stayed within 0\.57 \(early level 0\.50 \+ 0\.07\).*the full schedule ran/);
});

test('planning: off, DP-SGD, watched, capped without a holdout', () => {
  const base = { requested: true, dp: false, monitored: true, lengthDefaulted: true, iterations: 20_000, iterationsPerEpoch: 4 };
  assert.deepEqual(planGuard({ ...base, requested: false }).outcome.status, 'off');
  assert.equal(planGuard({ ...base, requested: false }).iterations, 20_000, 'off keeps the full schedule');
  const dp = planGuard({ ...base, dp: true });
  assert.equal(dp.watch, undefined);
  assert.equal(dp.outcome.status, 'dp');
  assert.match(dp.outcome.message, /not used under DP-SGD/);
  const watched = planGuard(base);
  assert.equal(watched.outcome.status, 'watching');
  assert.deepEqual(watched.watch, guardSettings(20_000));
  assert.equal(planGuard({ ...base, requested: { rise: 0.2 } }).watch?.rise, 0.2, 'settings replace the defaults');
  const capped = planGuard({ ...base, monitored: false });
  assert.equal(capped.outcome.status, 'capped');
  assert.equal(capped.iterations, UNMONITORED_EPOCH_CAP * 4);
  assert.equal(planGuard({ ...base, monitored: false, lengthDefaulted: false }).iterations, 20_000, 'a length given by hand is trained as asked');
  assert.equal(planGuard({ ...base, monitored: false, iterations: 400 * 4 }).outcome.status, 'unmonitored', 'a default within the cap');
});

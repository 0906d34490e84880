/**
 * Training runs: plan (no side effects: the resolved settings, the DP plan, warnings, and an estimate
 * from a short calibration), start (import -> encode -> train into a run folder), resume. The CLI calls
 * these in-process; the app's service runs them in a worker (core/api/worker.ts).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnSchema, Dataset, ImportReport } from '../data/types.ts';
import { readDataset, type ReadOptions, type ReadProgress } from '../data/index.ts';
import { describePointMasses, encode, fitEncoder, type EncoderState } from '../encoding/encoder.ts';
import type { EncodedDataset } from '../encoding/types.ts';
import { modelConfig, type ModelConfig } from '../model/config.ts';
import type { EngineState, StepLosses } from '../model/engine.ts';
import { createEngine, engineLabel, type EngineKind } from '../model/engines.ts';
import type { PrivacySpent } from '../privacy/accountant.ts';
import { epsilonSpent, formatDelta, planDp, type DpPlan, type DpRequest } from '../privacy/dp.ts';
import { exposureMonitor, MIN_EXPOSURE_SERIES } from '../privacy/exposure.ts';
import { AVERAGE_EVERY, engineStateOf, GeneratorAverage } from '../train/generator-average.ts';
import { applyHiding, replaceSpecOf, type HideSpec } from '../privacy/hiding.ts';
import { writeCheckpoint, type Checkpoint, type TrainingPlan } from '../train/checkpoint.ts';
import { engineDp, type SeriesUnit } from '../train/dp-sampling.ts';
import { defaultAutoNormalize, defaultCriticSteps, defaultEpochs, defaultHoldoutFraction, defaultSampleLen, PAPER_EPOCHS, sampleLenReason, sourceSeries, splitHoldout } from '../train/defaults.ts';
import { iterationsPerEpoch, runLoop, type Progress } from '../train/loop.ts';
import { guardResult, guardStep, initialGuardState, planGuard, type GuardOutcome, type GuardSettings } from '../train/privacy-guard.ts';
import { loadEncoded, readRun, RUN_FILES, RUN_LOCK, saveEncoded, truncateProgress, writeJson, type HidingRecord, type RunInfo } from '../train/run-folder.ts';
import { removeStaleTemporaries } from '../util/atomic-file.ts';
import { ApiError } from '../util/errors.ts';
import { acquireLock } from '../util/lock-file.ts';
import { replaceDistribution, type HideRunResult } from './hiding.ts';

/** A checkpoint that could not be written: what happened, and that the previous one is intact. */
function checkpointFailure(error: unknown, runDir: string): unknown {
  const code = (error as { code?: string }).code;
  const disk = code === 'ENOSPC' || (error instanceof ApiError && /disk is full/.test(error.message));
  if (!disk) return error;
  return new ApiError('internal', `the disk is full: the checkpoint could not be written; the previous checkpoint in ${runDir} is intact`, {
    where: { file: runDir },
    hint: { text: 'free some space, then resume the run', action: 'resume' },
  });
}

export { RUN_LOCK } from '../train/run-folder.ts';

/** How long to train when no length is given: a fifth of the default (a first look), the default, or twice it. */
export type Preset = 'quick' | 'standard' | 'thorough';

export function presetIterations(preset: Preset, defaultIterations: number): number {
  if (preset === 'quick') return Math.min(defaultIterations, Math.max(500, Math.round(defaultIterations / 5)));
  return preset === 'thorough' ? 2 * defaultIterations : defaultIterations;
}

export interface TrainRequest {
  /** How long to train when neither iterations nor epochs are given (default 'standard'). */
  preset?: Preset;
  /** A file to import, or a dataset already in memory (demo data, the app's store). */
  data: { file: string; options?: ReadOptions } | { dataset: Dataset; label: string };
  runDir: string;
  /** S; default: `defaultSampleLen` of the longest series. */
  sampleLen?: number;
  /** Default: `defaultAutoNormalize` of the training series. */
  autoNormalize?: boolean;
  /** false: no "at the bound" categories (core/encoding/encoder.ts); default: where a bound holds a point mass. */
  boundCategories?: boolean;
  /** Default: `defaultEpochs` (the paper's 400, more for small datasets; 400 with DP-SGD). */
  epochs?: number;
  /** Overrides epochs when given. */
  iterations?: number;
  batchSize?: number;
  seed?: number;
  engine?: EngineKind;
  checkpointEvery?: number;
  /**
   * Share of series kept out of training as unseen real data for evaluation and the privacy review.
   * Default: `defaultHoldoutFraction` (from 100 series on, 10% and at least the 20 the exposure monitor needs).
   */
  holdoutFraction?: number;
  model?: Partial<Omit<ModelConfig, 'layout'>>;
  /** Train with DP-SGD (native engines only): a target epsilon or a noise multiplier. */
  dp?: DpRequest;
  /**
   * Guard against memorization (default on; core/train/privacy-guard.ts): with a holdout, stop once the
   * critic's membership AUC stays above a bound and keep the last checkpoint within it; without one, cap
   * a default schedule. Not used under DP-SGD. false: the full schedule, as before. Settings in place of
   * true replace the guard's defaults (tests and calibration; the contract takes a boolean).
   */
  privacyGuard?: boolean | Partial<GuardSettings>;
  /**
   * Attributes to hide (core/privacy/hiding.ts): dropped or coarsened before training, or (one per run)
   * their distribution replaced by a target once training completes (a released attribute table).
   */
  hide?: HideSpec[];
}

/** Training progress, with the privacy spent so far on a DP-SGD run (updated once an epoch). */
export interface RunProgress extends Progress {
  privacy?: PrivacySpent;
  /** The critic's membership AUC, training vs held-out series (core/privacy/exposure.ts), every 1% of the run. */
  exposure?: number;
}

export interface RunHooks {
  onProgress?: (progress: RunProgress) => void;
  /** Progress of reading the data file. */
  onReadProgress?: ReadProgress;
  /** Human-readable notes (engine choice, import repairs, checkpoints). */
  onLog?: (message: string) => void;
  /** After each checkpoint is on disk (the run folder is consistent then); awaited. */
  afterCheckpoint?: (iteration: number, status: Checkpoint['status']) => Promise<void> | void;
  signal?: AbortSignal;
}

export interface RunSummary {
  runDir: string;
  status: 'complete' | 'cancelled';
  iteration: number;
  totalIterations: number;
  elapsedSeconds: number;
  losses?: StepLosses;
  engine: string;
  /** DP-SGD runs: what the iterations done so far spent. */
  privacy?: PrivacySpent;
  /** Runs with a holdout: the critic's membership AUC at the end. */
  exposure?: number;
  /** Why the membership exposure was not measured during training (no holdout, or too small a one). */
  exposureUnavailable?: string;
  /** What the privacy guard did, in words and figures (also in run.json). */
  privacyGuard?: GuardOutcome;
  /** A completed run that asked to hide an attribute's distribution: the released attribute table written. */
  released?: HideRunResult;
}

/** Why the exposure monitor cannot run on a holdout of `holdout` series (0: none) and `train` training series. */
export function exposureUnavailableReason(holdout: number, train: number): string {
  const why =
    holdout === 0
      ? `no series were held out of training${train < 100 ? ' (the default under 100 series)' : ''}`
      : `${Math.min(holdout, train)} series ${holdout <= train ? 'were held out' : 'are in training'}, fewer than the ${MIN_EXPOSURE_SERIES} its AUC needs`;
  return `membership exposure is not measured during this run: ${why}; a larger holdout fraction keeps ${MIN_EXPOSURE_SERIES} or more out; the evaluation still reviews what the synthetic data exposes`;
}

async function runTraining(runDir: string, checkpoint: Checkpoint, data: EncodedDataset, info: RunInfo, hooks: RunHooks, fresh: boolean): Promise<RunSummary> {
  const { dp } = checkpoint.plan;
  const { engine, note } = await createEngine(checkpoint.plan.engine, {
    config: checkpoint.model,
    seed: checkpoint.plan.seed,
    ...(dp ? { dp: engineDp(dp) } : {}),
  });
  try {
    // auto's note names the engine and why; an engine asked for by name needs no why
    hooks.onLog?.(note ?? `engine: ${engineLabel(engine.name)}`);
    if (!fresh) {
      await engine.setState(engineStateOf(checkpoint.engineState));
      truncateProgress(runDir, checkpoint.iteration);
    }
    // what generation uses: an average of the generator's weights, continued across a resume
    let average = GeneratorAverage.from(checkpoint.engineState);
    const progressFile = path.join(runDir, RUN_FILES.progress);
    const logEvery = Math.max(1, Math.floor(checkpoint.plan.iterationsPerEpoch));
    // the accountant takes ~1-2 ms: once an epoch, at checkpoints and at the end
    let privacy: PrivacySpent | undefined = dp && checkpoint.iteration > 0 ? epsilonSpent(dp, checkpoint.iteration) : undefined;
    const privacyAt = (iteration: number) => {
      if (dp) privacy = epsilonSpent(dp, iteration);
      return dp ? privacy : undefined;
    };
    const holdoutFile = path.join(runDir, RUN_FILES.holdout);
    const heldOut = fs.existsSync(holdoutFile) ? loadEncoded(holdoutFile, checkpoint.runId) : null;
    const measureExposure = heldOut ? exposureMonitor(data, heldOut, checkpoint.plan.seed) : null;
    // said once, in the log and the summary: a run without the exposure line should say why
    const exposureUnavailable = measureExposure ? undefined : exposureUnavailableReason(heldOut?.n ?? 0, data.n);
    if (exposureUnavailable) hooks.onLog?.(exposureUnavailable);
    const exposureEvery = Math.max(1, Math.round(checkpoint.plan.totalIterations / 100));
    let exposure: number | undefined = measureExposure && checkpoint.iteration > 0 ? await measureExposure(engine) : undefined;
    // The privacy guard (core/train/privacy-guard.ts) reads every exposure measurement; the engine state of
    // the latest reading within its bound is held in memory, to become the checkpoint if it stops the run.
    // On resume it starts afresh (its readings are not in the checkpoint); its minimum length still counts from iteration 0.
    const guard = checkpoint.plan.privacyGuard && measureExposure && !dp ? checkpoint.plan.privacyGuard : null;
    let guardState = initialGuardState();
    let safe: { iteration: number; exposure: number; state: EngineState; average: GeneratorAverage } | null = null;
    let stop: { at: number; keptIteration: number | null; keptSmoothed: number | null } | null = null;
    const result = await runLoop({
      engine,
      data,
      plan: checkpoint.plan,
      startIteration: checkpoint.iteration,
      previousSeconds: checkpoint.elapsedSeconds,
      signal: hooks.signal,
      onNotice: (message) => hooks.onLog?.(message),
      afterStep: async (iteration) => {
        if (iteration % AVERAGE_EVERY === 0) average.update(await engine.getState());
        if (!measureExposure || !(iteration % exposureEvery === 0 || iteration === checkpoint.plan.totalIterations)) return;
        exposure = await measureExposure(engine);
        if (!guard) return;
        const step = guardStep(guard, guardState, iteration, exposure);
        guardState = step.state;
        if (step.decision.action === 'continue') {
          if (step.decision.keep) safe = { iteration, exposure, state: await engine.getState(), average: average.snapshot() };
          return;
        }
        stop = { at: iteration, keptIteration: step.decision.keepIteration, keptSmoothed: step.decision.keptSmoothed };
        return 'stop';
      },
      onProgress: (p) => {
        if (p.iteration % logEvery === 0 || p.iteration === p.totalIterations) {
          privacyAt(p.iteration);
          const spent = privacy ? { epsilon: +privacy.epsilon.toPrecision(6) } : {};
          const exposed = exposure !== undefined ? { exposure: +exposure.toFixed(4) } : {};
          fs.appendFileSync(progressFile, JSON.stringify({ iteration: p.iteration, epoch: p.epoch, elapsedSeconds: +p.elapsedSeconds.toFixed(3), ...p.losses, ...spent, ...exposed }) + '\n');
        }
        hooks.onProgress?.({ ...p, ...(privacy ? { privacy } : {}), ...(exposure !== undefined ? { exposure } : {}) });
      },
      onCheckpoint: async (at, status, elapsedSeconds) => {
        // a run the guard stopped ends on the state it kept, not the one that crossed the bound
        const kept = status === 'complete' && stop && safe ? safe : null;
        const iteration = kept ? kept.iteration : at;
        const state = kept ? kept.average.attachTo(kept.state) : average.attachTo(await engine.getState());
        if (kept) {
          exposure = kept.exposure;
          average = kept.average;
        }
        if (status === 'complete' && guard) {
          info.privacyGuard = guardResult(guard, guardState, stop, checkpoint.plan.totalIterations);
          hooks.onLog?.(info.privacyGuard.message);
        }
        try {
          writeCheckpoint(path.join(runDir, RUN_FILES.checkpoint), {
            ...checkpoint,
            createdAt: new Date().toISOString(),
            engineName: engine.name,
            iteration,
            status,
            elapsedSeconds,
            engineState: state,
          });
        } catch (error) {
          throw checkpointFailure(error, runDir);
        }
        Object.assign(
          info,
          { status, iteration, elapsedSeconds, engine: engine.name, updatedAt: new Date().toISOString() },
          dp ? { privacySpent: privacyAt(iteration) } : {},
          exposure !== undefined ? { exposure } : {},
        );
        writeJson(path.join(runDir, RUN_FILES.run), info);
        if (status !== 'running') hooks.onLog?.(`checkpoint written at iteration ${iteration} (${status})`);
        await hooks.afterCheckpoint?.(iteration, status);
      },
    });
    return {
      runDir,
      status: result.status,
      iteration: info.iteration,
      totalIterations: checkpoint.plan.totalIterations,
      elapsedSeconds: result.elapsedSeconds,
      losses: result.losses,
      engine: engine.name,
      // the last checkpoint (written at result.iteration, whatever the status) computed both
      ...(privacy ? { privacy } : {}),
      ...(exposure !== undefined ? { exposure } : {}),
      ...(exposureUnavailable ? { exposureUnavailable } : {}),
      ...(info.privacyGuard ? { privacyGuard: info.privacyGuard } : {}),
    };
  } finally {
    engine.dispose();
  }
}

/** A training run worked out from its data and settings, before anything is written. */
export interface PreparedTraining {
  dataset: Dataset;
  importReport?: ImportReport;
  source: string;
  train: Dataset;
  holdout?: Dataset;
  encoder: EncoderState;
  data: EncodedDataset;
  model: ModelConfig;
  plan: TrainingPlan;
  /** Things the user should know before starting, in plain words. */
  warnings: string[];
  /** Notes on how the defaults were chosen (printed as training starts). */
  notes: string[];
  /** What the privacy guard will do (its final word comes when the run ends). */
  privacyGuard: GuardOutcome;
  /** What hiding did to the data before training, and asks of the end of training (recorded in run.json). */
  hiding?: HidingRecord;
}

/** Reads the data (when a file is given) and resolves every setting; writes nothing. */
export async function prepareTraining(request: Omit<TrainRequest, 'runDir'>, onReadProgress?: ReadProgress): Promise<PreparedTraining> {
  const seed = request.seed ?? 0;
  let dataset: Dataset;
  let importReport: ImportReport | undefined;
  let source: string;
  const warnings: string[] = [];
  if ('file' in request.data) {
    const read = await readDataset(request.data.file, request.data.options, onReadProgress);
    dataset = read.dataset;
    importReport = read.report;
    source = path.resolve(request.data.file);
    warnings.push(...read.report.warnings);
  } else {
    dataset = request.data.dataset;
    source = request.data.label;
  }
  // Dropping and coarsening change the data itself, so they come before the split and the encoder: the
  // model never sees a dropped column or a merged category's own label (the holdout is coarsened alike).
  const hidden = request.hide?.length ? applyHiding(dataset, request.hide) : undefined;
  const data0 = hidden?.dataset ?? dataset;
  const { train, holdout } = splitHoldout(data0, request.holdoutFraction ?? defaultHoldoutFraction(data0.series.length, MIN_EXPOSURE_SERIES), seed);
  const longest = Math.max(...train.series.map((s) => s.length));
  const sampleLen = request.sampleLen ?? defaultSampleLen(longest);
  const autoNormalizeChoice = request.autoNormalize === undefined ? defaultAutoNormalize(train) : undefined;
  const autoNormalize = request.autoNormalize ?? autoNormalizeChoice!.on;
  const encoder = fitEncoder(train, { sampleLen, autoNormalize, snapToBounds: !request.dp, boundCategories: request.boundCategories });
  const data = encode(encoder, train);
  const requestedBatch = request.batchSize ?? 100;
  const batchSize = Math.min(requestedBatch, data.n);
  const model = modelConfig(encoder.layout, { criticSteps: defaultCriticSteps(data.n, batchSize), ...request.model, sampleLen });
  const notes: string[] = [];
  if (batchSize < requestedBatch) notes.push(`batch size lowered to ${batchSize}: the training set has only ${data.n} series`);
  const perEpoch = iterationsPerEpoch(data.n, batchSize);
  // With DP-SGD the paper's 400 epochs whatever the size: the small-data extension buys noiseless
  // fidelity, while under DP every extra iteration needs more noise for the same epsilon (on MBA at
  // epsilon 4, 20,000 iterations would need sigma ~60 against 22 for 2,000; bench/PRIVACY.md).
  const defaultIterations = perEpoch * (request.dp ? PAPER_EPOCHS : defaultEpochs(data.n, batchSize));
  const lengthDefaulted = request.iterations === undefined && request.epochs === undefined;
  const askedIterations = request.iterations ?? (request.epochs !== undefined ? perEpoch * request.epochs : presetIterations(request.preset ?? 'standard', defaultIterations));
  const guard = planGuard({
    requested: request.privacyGuard ?? true,
    dp: Boolean(request.dp),
    monitored: (holdout?.series.length ?? 0) >= MIN_EXPOSURE_SERIES && data.n >= MIN_EXPOSURE_SERIES,
    lengthDefaulted,
    iterations: askedIterations,
    iterationsPerEpoch: perEpoch,
  });
  const totalIterations = guard.iterations;
  if (!(totalIterations > 0)) throw new ApiError('invalid_argument', `nothing to train: ${totalIterations} iterations`, { hint: { text: 'train at least one iteration', option: 'iterations' } });
  const sources = sourceSeries(train.series);
  const seriesUnit: SeriesUnit | undefined = sources.maxPieces > 1 ? sources : undefined;
  const dp = request.dp
    ? planDp(request.dp, {
        trainingSeries: data.n,
        ...(seriesUnit ? { seriesUnit } : {}),
        batchSize,
        criticSteps: model.criticSteps,
        hasAuxCritic: model.auxCriticHidden.length > 0,
        iterations: totalIterations,
      })
    : undefined;
  const plan: TrainingPlan = {
    seed,
    batchSize,
    iterationsPerEpoch: perEpoch,
    totalIterations,
    checkpointEvery: request.checkpointEvery ?? Math.max(50, Math.min(1000, Math.round(totalIterations / 10))),
    engine: request.engine ?? 'auto',
    ...(dp ? { dp } : {}),
    ...(guard.watch ? { privacyGuard: guard.watch } : {}),
  };
  notes.push(
    `training on ${data.n} series (${holdout ? `${holdout.series.length} held out, ` : ''}T=${encoder.layout.maxLength}, S=${sampleLen}, ` +
      `auto-normalization ${encoder.autoNormalize ? 'on' : 'off'}), ` +
      `batch ${batchSize}, ${model.criticSteps} critic step${model.criticSteps === 1 ? '' : 's'} per iteration, ${totalIterations} iterations (${(totalIterations / perEpoch).toFixed(1)} epochs), seed ${seed}`,
  );
  if (request.sampleLen === undefined) notes.push(`S=${sampleLen}: ${sampleLenReason(longest, sampleLen)}`);
  if (autoNormalizeChoice) notes.push(`auto-normalization ${autoNormalizeChoice.on ? 'on' : 'off'}: ${autoNormalizeChoice.reason}`);
  notes.push(...describePointMasses(encoder));
  if (hidden) notes.push(...describeHiding(hidden.record));
  if (dp) notes.push(...describeDp(dp, totalIterations, { encoder, autoNormalizeGiven: request.autoNormalize !== undefined, boundCategories: request.boundCategories, trainingRows: data.n }));
  // the guard's note says what protects a long default schedule; without the guard the warning stands
  else if (guard.outcome.status === 'off' && lengthDefaulted && totalIterations > perEpoch * PAPER_EPOCHS) {
    warnings.push(
      `with ${data.n} series the default trains ${(totalIterations / perEpoch).toFixed(0)} epochs for fidelity, and so long a training on few series lets the model memorize them ` +
        "(on MBA, a membership attack on the synthetic data rose from AUC 0.58 at 2,000 iterations to 0.65 at 20,000, and one with the run's critic to 0.73: bench/PRIVACY.md). " +
        'The privacy review measures it; fewer iterations or DP-SGD (a target epsilon) trade fidelity for privacy',
    );
  }
  if (guard.outcome.status !== 'off') notes.push(guard.outcome.message);
  return { dataset, importReport, source, train, holdout, encoder, data, model, plan, warnings, notes, privacyGuard: guard.outcome, ...(hidden ? { hiding: hidden.record } : {}) };
}

/** The time a plan will take, measured on this machine's engine. */
export interface TrainingEstimate {
  engine: string;
  secondsPerIteration: number;
  totalSeconds: number;
  /** Iterations timed (after one warm-up). */
  calibrationIterations: number;
}

/**
 * Times a few iterations of the planned model on real batches, on the engine the run would use, and
 * scales to the plan. The engine is thrown away: nothing of it is kept.
 */
export async function estimateTraining(prepared: PreparedTraining, iterations = 3): Promise<TrainingEstimate> {
  const { plan, model, data } = prepared;
  const { engine } = await createEngine(plan.engine, {
    config: model,
    seed: plan.seed,
    ...(plan.dp ? { dp: engineDp(plan.dp) } : {}),
  });
  try {
    const calibrationPlan: TrainingPlan = { ...plan, totalIterations: iterations + 1, checkpointEvery: iterations + 1 };
    let started = 0;
    await runLoop({
      engine,
      data,
      plan: calibrationPlan,
      startIteration: 0,
      onCheckpoint: () => {},
      afterStep: async (iteration) => {
        if (iteration === 1) started = performance.now();
        return undefined;
      },
    });
    const secondsPerIteration = (performance.now() - started) / 1000 / iterations;
    return { engine: engine.name, secondsPerIteration, totalSeconds: secondsPerIteration * plan.totalIterations, calibrationIterations: iterations };
  } finally {
    engine.dispose();
  }
}

/** A new run never overwrites another: a folder with a checkpoint is a run to resume. */
function refuseExistingRun(runDir: string): void {
  if (fs.existsSync(path.join(runDir, RUN_FILES.checkpoint))) {
    throw new ApiError('conflict', `${runDir} already holds a training run`, { where: { file: runDir }, hint: { text: 'continue that run, or train into another folder', action: 'resume' } });
  }
}

export async function startTraining(request: TrainRequest, hooks: RunHooks = {}): Promise<RunSummary> {
  const runDir = path.resolve(request.runDir);
  // before reading the data (seconds for a big file); checked again under the folder's lock
  refuseExistingRun(runDir);
  const prepared = await prepareTraining(request, hooks.onReadProgress);
  for (const warning of prepared.importReport?.warnings ?? []) hooks.onLog?.(`warning: ${warning}`);
  return startPrepared(runDir, prepared, request.data, hooks);
}

/** Writes a prepared run's folder and trains it. */
export async function startPrepared(runDir: string, prepared: PreparedTraining, data: TrainRequest['data'], hooks: RunHooks = {}): Promise<RunSummary> {
  fs.mkdirSync(runDir, { recursive: true });
  const release = acquireLock(path.join(runDir, RUN_LOCK), { what: `the run folder ${runDir}` });
  try {
    removeStaleTemporaries(runDir);
    refuseExistingRun(runDir);
    return await writeAndTrain(runDir, prepared, data, hooks);
  } finally {
    release();
  }
}

async function writeAndTrain(runDir: string, prepared: PreparedTraining, data: TrainRequest['data'], hooks: RunHooks): Promise<RunSummary> {
  const { encoder, plan, model, holdout, source, importReport } = prepared;
  fs.rmSync(path.join(runDir, RUN_FILES.progress), { force: true });
  const runId = randomUUID();
  saveEncoded(path.join(runDir, RUN_FILES.train), prepared.data, runId);
  if (holdout) saveEncoded(path.join(runDir, RUN_FILES.holdout), encode(encoder, holdout), runId);
  const now = new Date().toISOString();
  const info: RunInfo = {
    runId,
    source,
    readOptions: 'file' in data ? data.options : undefined,
    importReport,
    trainSeries: prepared.data.n,
    holdoutSeries: holdout?.series.length ?? 0,
    holdoutIds: holdout?.series.map((s) => s.id) ?? [],
    plan,
    engine: plan.engine,
    status: 'running',
    iteration: 0,
    startedAt: now,
    updatedAt: now,
    elapsedSeconds: 0,
    privacyGuard: prepared.privacyGuard,
    ...(prepared.hiding ? { hiding: prepared.hiding } : {}),
  };
  const checkpoint: Checkpoint = {
    format: 'dg-checkpoint',
    version: 1,
    runId,
    createdAt: now,
    engineName: plan.engine,
    model,
    encoder,
    plan,
    iteration: 0,
    status: 'running',
    elapsedSeconds: 0,
    engineState: { tensors: [], counters: {} },
  };
  for (const note of prepared.notes) hooks.onLog?.(note);
  for (const warning of prepared.warnings.filter((w) => !importReport?.warnings.includes(w))) hooks.onLog?.(`note: ${warning}`);
  return releaseIfAsked(runDir, await runTraining(runDir, checkpoint, prepared.data, info, hooks, true), hooks, true);
}

/** What hiding did and will do, in words. */
function describeHiding(record: HidingRecord): string[] {
  const notes: string[] = [];
  if (record.dropped.length) notes.push(`hidden: ${record.dropped.join(', ')} dropped (not learned, not in the synthetic data)`);
  for (const [attribute, { label, categories }] of Object.entries(record.merged)) {
    const k = record.specs.find((s) => s.attribute === attribute)?.minSeries;
    notes.push(`hidden: ${categories.length} categor${categories.length === 1 ? 'y' : 'ies'} of ${attribute} held by fewer than ${k} series merged into '${label}' (${categories.join(', ')})`);
  }
  for (const spec of record.specs) {
    if (spec.mode === 'coarsen' && !record.merged[spec.attribute]) notes.push(`hidden: no category of ${spec.attribute} is held by fewer than ${spec.minSeries} series: nothing merged`);
    if (spec.mode === 'replace') {
      notes.push(
        `hidden: once training completes, ${spec.attribute}'s learned distribution is replaced by ${spec.target === 'uniform' ? 'a uniform one' : 'the given frequencies'} (a released attribute table; the feature generator stays as trained)`,
      );
    }
  }
  return notes;
}

/**
 * The end of a completed run that asked to replace an attribute's distribution: the released attribute
 * table, written under the run's lock (held by the caller), from the latest spec (`dg hide` may have
 * changed it). After training iterations (`trained`) it is drawn again, since the attribute generator it
 * was drawn from has changed; a run found complete keeps the table it has.
 */
async function releaseIfAsked(runDir: string, summary: RunSummary, hooks: RunHooks, trained: boolean): Promise<RunSummary> {
  if (summary.status !== 'complete') return summary;
  const { info } = readRun(runDir);
  const replace = replaceSpecOf(info.hiding?.specs as HideSpec[] | undefined);
  if (!replace || (info.hiding?.released && !trained)) return summary;
  const released = await replaceDistribution(runDir, { runDir, replace, engine: info.plan.engine as EngineKind }, hooks.onLog);
  return { ...summary, released };
}

/** "N iterations spend epsilon E at delta D" */
function spending(dp: DpPlan, iterations: number): string {
  const spent = epsilonSpent(dp, iterations);
  return `${iterations} iterations spend epsilon ${spent.epsilon.toFixed(3)} at delta ${formatDelta(spent.delta)}`;
}

/** What the plan must say about a DP-SGD run: its noise and spending, the privacy unit, and what epsilon does not cover. */
function describeDp(dp: DpPlan, iterations: number, facts: { encoder: EncoderState; autoNormalizeGiven: boolean; boundCategories?: boolean; trainingRows: number }): string[] {
  const noise = dp.targetEpsilon !== undefined ? `noise multiplier ${dp.noiseMultiplier.toPrecision(4)} (solved for epsilon ${dp.targetEpsilon})` : `noise multiplier ${dp.noiseMultiplier}`;
  const unit = dp.seriesUnit;
  const { encoder } = facts;
  const names = (columns: ColumnSchema[], kind: ColumnSchema['kind']) => columns.filter((c) => c.kind === kind).map((c) => c.name);
  const ranged = [...names(encoder.attributes, 'continuous'), ...names(encoder.features, 'continuous')];
  const labelled = [...names(encoder.attributes, 'categorical'), ...names(encoder.features, 'categorical')];
  const readFromData = [
    ranged.length ? `the value ranges of ${ranged.join(', ')}` : '',
    labelled.length ? `the category lists of ${labelled.join(', ')}` : '',
    `the number of training series (${unit ? unit.series : facts.trainingRows}) and the longest series length (${encoder.maxLength})`,
    'the number of decimals of each column',
    facts.autoNormalizeGiven ? '' : `the choice of auto-normalization (${encoder.autoNormalize ? 'on' : 'off'}, from the series' ranges; set it to keep it data-independent)`,
    encoder.features.some((c) => c.kind === 'continuous') && facts.boundCategories !== false
      ? `which features' bounds get a category of their own (${
          encoder.features
            .filter((_, f) => encoder.pointMasses?.[f])
            .map((c) => c.name)
            .join(', ') || 'none'
        }: from the share of values at each bound; turn the categories off to keep it data-independent)`
      : '',
  ].filter(Boolean);
  return [
    `DP-SGD: ${noise}, clip norm ${dp.clipNorm}, Poisson-sampled batches of ${dp.expectedBatch} ${unit ? 'pieces' : 'series'} on average (rate ${dp.samplingRate.toPrecision(3)}); ` +
      spending(dp, iterations),
    unit
      ? `the privacy unit is one source series: ${facts.trainingRows} pieces come from ${unit.series} series split at import (up to ${unit.maxPieces} each); a sampled series brings all its pieces and each piece is clipped to ${dp.clipNorm}/${unit.maxPieces}, so epsilon holds per series`
      : 'the privacy unit is one series: epsilon bounds what the model reveals about any one series being in the training data',
    "covered by epsilon: the model's weights and everything generated from them (the synthetic data, an exported model)",
    `not covered (read from the data and kept as they are): ${readFromData.join('; ')}; give ranges and categories in the schema from public knowledge where they must not be disclosed`,
    "not covered, and to keep inside: the run folder's training log (losses, gradient norms, the membership monitor), run.json (held-out series ids) and the report (it plots real series); share the synthetic data or the exported model",
  ];
}

export async function resumeTraining(runDir: string, hooks: RunHooks = {}, overrides: { iterations?: number; engine?: EngineKind } = {}): Promise<RunSummary> {
  const dir = path.resolve(runDir);
  if (!fs.existsSync(dir)) throw new ApiError('not_found', `no run folder at ${dir}`, { where: { file: dir } });
  const release = acquireLock(path.join(dir, RUN_LOCK), { what: `the run folder ${dir}` });
  try {
    const removed = removeStaleTemporaries(dir);
    if (removed.length) hooks.onLog?.(`removed ${removed.length} temporary file${removed.length === 1 ? '' : 's'} left by a process that ended: ${removed.join(', ')}`);
    return await resumeLocked(dir, hooks, overrides);
  } finally {
    release();
  }
}

async function resumeLocked(dir: string, hooks: RunHooks, overrides: { iterations?: number; engine?: EngineKind }): Promise<RunSummary> {
  const { checkpoint, info } = readRun(dir);
  const plan = { ...checkpoint.plan, ...(overrides.iterations ? { totalIterations: overrides.iterations } : {}), ...(overrides.engine ? { engine: overrides.engine } : {}) };
  // a run the guard stopped is complete; --iterations continues it, still guarded
  const guardStopped = checkpoint.status === 'complete' && info.privacyGuard?.status === 'stopped' && !overrides.iterations;
  if (checkpoint.iteration >= plan.totalIterations || guardStopped) {
    hooks.onLog?.(`run is already complete (${checkpoint.iteration}/${plan.totalIterations} iterations${guardStopped ? ', stopped by the privacy guard' : ''})`);
    // a run stopped between its last checkpoint and its released attribute table gets the table now
    return releaseIfAsked(
      dir,
      {
        runDir: dir,
        status: 'complete',
        iteration: checkpoint.iteration,
        totalIterations: plan.totalIterations,
        elapsedSeconds: checkpoint.elapsedSeconds,
        engine: checkpoint.engineName,
        ...(info.privacyGuard ? { privacyGuard: info.privacyGuard } : {}),
      },
      hooks,
      false,
    );
  }
  hooks.onLog?.(`resuming at iteration ${checkpoint.iteration} of ${plan.totalIterations}`);
  if (plan.dp && plan.totalIterations !== checkpoint.plan.totalIterations) {
    hooks.onLog?.(
      `DP-SGD: ${spending(plan.dp, plan.totalIterations)}` +
        (plan.dp.targetEpsilon !== undefined ? ` (the run's noise was set for epsilon ${plan.dp.targetEpsilon} over ${checkpoint.plan.totalIterations})` : ''),
    );
  }
  const data = loadEncoded(path.join(dir, RUN_FILES.train), checkpoint.runId);
  return releaseIfAsked(dir, await runTraining(dir, { ...checkpoint, plan }, data, { ...info, plan }, hooks, false), hooks, true);
}

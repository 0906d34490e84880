/**
 * A training run on disk: start (import -> encode -> train), resume, and generate from it.
 *
 * RUN_DIR/
 *   run.json        what was trained on and how, status, progress (human-readable, rewritten atomically)
 *   checkpoint.dgc  model + encoder + engine state + loop position (see checkpoint.ts)
 *   train.dgt       the encoded training series, so resume needs no re-import and continues exactly
 *   holdout.dgt     encoded real series kept out of training (when a holdout fraction is set)
 *   progress.jsonl  one line of losses per logged iteration (the training curve)
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset, ImportReport, Value } from '../data/types.ts';
import { readDataset, type ReadOptions, type ReadProgress } from '../data/index.ts';
import { decode, encode, encodeAttributes, fitEncoder, type EncoderState } from '../encoding/encoder.ts';
import { widthOf, type EncodedDataset } from '../encoding/types.ts';
import { modelConfig, paperDefaults, type ModelConfig } from '../model/config.ts';
import { GENERATION_BLOCK, type GeneratedBatch, type StepLosses } from '../model/engine.ts';
import { createEngine, type EngineKind } from '../model/engines.ts';
import type { PrivacySpent } from '../privacy/accountant.ts';
import { epsilonSpent, formatDelta, planDp, type DpPlan, type DpRequest } from '../privacy/dp.ts';
import { exposureMonitor } from '../privacy/exposure.ts';
import { Rng } from '../util/rng.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { readTensorFile, writeTensorFile } from '../util/tensor-file.ts';
import { readCheckpoint, writeCheckpoint, type Checkpoint, type TrainingPlan } from './checkpoint.ts';
import { iterationsPerEpoch, runLoop, type Progress } from './loop.ts';

export const RUN_FILES = {
  run: 'run.json',
  checkpoint: 'checkpoint.dgc',
  train: 'train.dgt',
  holdout: 'holdout.dgt',
  progress: 'progress.jsonl',
} as const;

export interface TrainRequest {
  /** A file to import, or a dataset already in memory (demo data, the app's store). */
  data: { file: string; options?: ReadOptions } | { dataset: Dataset; label: string };
  runDir: string;
  /** S; default: `defaultSampleLen` of the longest series. */
  sampleLen?: number;
  /** Default: `defaultAutoNormalize` of the training series. */
  autoNormalize?: boolean;
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
   * Default: `defaultHoldoutFraction` (10% once there are enough series to spare).
   */
  holdoutFraction?: number;
  model?: Partial<Omit<ModelConfig, 'layout'>>;
  /** Train with DP-SGD (native engines only): a target epsilon or a noise multiplier. */
  dp?: DpRequest;
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
}

interface RunInfo {
  source: string;
  readOptions?: ReadOptions;
  importReport?: ImportReport;
  trainSeries: number;
  holdoutSeries: number;
  holdoutIds: string[];
  plan: TrainingPlan;
  engine: string;
  status: Checkpoint['status'];
  iteration: number;
  startedAt: string;
  updatedAt: string;
  elapsedSeconds: number;
  /** DP-SGD runs: the privacy spent by the iterations done (epsilon at the plan's delta). */
  privacySpent?: PrivacySpent;
  /** Runs with a holdout: the critic's membership AUC, training vs held-out series, at the last checkpoint. */
  exposure?: number;
}

/** 10% held out when at least 100 series exist; smaller datasets need every series for training. */
export const defaultHoldoutFraction = (series: number) => (series >= 100 ? 0.1 : 0);

/*
 * Training defaults by dataset shape. The model's own settings stay the paper's (`paperDefaults` in
 * core/model/config.ts); these choose what depends on the data. Measurements behind them: bench/FIDELITY.md.
 */

/**
 * S: the largest divisor of T that is at most 10 and leaves the LSTM at least 4 steps (1 when none does).
 * The paper found S = 10 best on WWT (T = 550); on MBA (T = 56) S = 8 beat 4, 2 and 1 (bench/FIDELITY.md).
 * A divisor, so no padded steps are generated and thrown away.
 */
export function defaultSampleLen(maxLength: number): number {
  for (let s = Math.min(10, Math.floor(maxLength / 4)); s > 1; s--) if (maxLength % s === 0) return s;
  return 1;
}

/** Fewest iterations a default run trains for: small datasets get more epochs (the authors trained MBA, 600
 * series, for 17,000 epochs); on MBA quality kept improving up to about this many (bench/FIDELITY.md). */
export const MIN_DEFAULT_ITERATIONS = 20_000;

/** The paper's training length. */
export const PAPER_EPOCHS = 400;

/** The paper's 400 epochs, or enough epochs for MIN_DEFAULT_ITERATIONS iterations when that is more. */
export function defaultEpochs(series: number, batchSize: number): number {
  return Math.max(PAPER_EPOCHS, Math.ceil(MIN_DEFAULT_ITERATIONS / iterationsPerEpoch(series, batchSize)));
}

/**
 * Critic updates per generator update: 2 for small datasets (those that train longer than the paper's 400
 * epochs to reach MIN_DEFAULT_ITERATIONS), the paper's 1 otherwise. On MBA (480 series) a second critic
 * step moved TSTR/TRTR from 0.83 +- 0.14 to 0.95 +- 0.09 over 3 seeds and the discriminative score from
 * 0.22 to 0.12, for 1.6x the training time (bench/FIDELITY.md); large datasets keep the paper's cheaper
 * setting, where it was tuned.
 */
export function defaultCriticSteps(series: number, batchSize: number): number {
  return defaultEpochs(series, batchSize) > PAPER_EPOCHS ? 2 : paperDefaults.criticSteps;
}

/** Auto-normalization pays off when series of one feature live on very different scales. */
export const AUTO_NORMALIZE_RANGE_RATIO = 100;

/**
 * Auto-normalization (per-series min/max as generated attributes) is the paper's fix for features whose
 * series span very different scales (WWT page views: orders of magnitude). It is on when, for some
 * continuous feature, the 90th percentile of the per-series ranges (max - min, over series that are not
 * flat) is at least AUTO_NORMALIZE_RANGE_RATIO times the 10th percentile; off otherwise. On MBA (ratios
 * 10 and 5) it hurts: the min/max generator cannot put a zero-loss series' min exactly on 0, so ping loss
 * becomes a constant offset (bench/FIDELITY.md); the authors' own MBA configuration has it off too.
 */
export function defaultAutoNormalize(train: Dataset): boolean {
  return train.features.some((column, f) => {
    if (column.kind !== 'continuous') return false;
    const ranges: number[] = [];
    for (const series of train.series) {
      const values = series.features[f] as Float64Array;
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < series.length; t++) {
        if (values[t] < lo) lo = values[t];
        if (values[t] > hi) hi = values[t];
      }
      if (hi > lo) ranges.push(hi - lo);
    }
    if (ranges.length < 2) return false;
    ranges.sort((a, b) => a - b);
    const at = (q: number) => ranges[Math.round(q * (ranges.length - 1))];
    return at(0.9) >= AUTO_NORMALIZE_RANGE_RATIO * at(0.1);
  });
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, [Buffer.from(JSON.stringify(value, null, 2) + '\n')]);
}

function saveEncoded(file: string, data: EncodedDataset): void {
  writeTensorFile(file, { layout: data.layout, ids: data.ids, n: data.n }, [
    { name: 'attributes', shape: [data.n, data.attributes.length / Math.max(data.n, 1)], data: data.attributes },
    { name: 'additionalAttributes', shape: [data.n, data.additionalAttributes.length / Math.max(data.n, 1)], data: data.additionalAttributes },
    { name: 'features', shape: [data.n, data.features.length / Math.max(data.n, 1)], data: data.features },
    { name: 'lengths', shape: [data.n], data: data.lengths },
  ]);
}

export function loadEncoded(file: string): EncodedDataset {
  const { meta, arrays } = readTensorFile<Pick<EncodedDataset, 'layout' | 'ids' | 'n'>>(file);
  const get = (name: string) => arrays.get(name)!.data;
  return {
    ...meta,
    attributes: get('attributes') as Float32Array,
    additionalAttributes: get('additionalAttributes') as Float32Array,
    features: get('features') as Float32Array,
    lengths: get('lengths') as Int32Array,
  };
}

/** Splits series into train and holdout with a seeded shuffle. */
function splitHoldout(dataset: Dataset, fraction: number, seed: number): { train: Dataset; holdout?: Dataset } {
  if (!(fraction > 0)) return { train: dataset };
  if (fraction >= 1) throw new Error(`holdout fraction must be below 1, got ${fraction}`);
  const n = dataset.series.length;
  const holdoutCount = Math.round(n * fraction);
  if (holdoutCount < 1 || n - holdoutCount < 2) throw new Error(`a holdout fraction of ${fraction} leaves no usable split of ${n} series`);
  const order = new Rng(seed, 4).permutation(n);
  const holdoutIndex = new Set(Array.from(order.subarray(0, holdoutCount)));
  const pick = (keep: boolean) => ({ ...dataset, series: dataset.series.filter((_, i) => holdoutIndex.has(i) === keep) });
  return { train: pick(false), holdout: pick(true) };
}

async function runTraining(runDir: string, checkpoint: Checkpoint, data: EncodedDataset, info: RunInfo, hooks: RunHooks, fresh: boolean): Promise<RunSummary> {
  const { dp } = checkpoint.plan;
  const { engine, note } = await createEngine(checkpoint.plan.engine, {
    config: checkpoint.model,
    seed: checkpoint.plan.seed,
    ...(dp ? { dp: { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, expectedBatch: dp.expectedBatch } } : {}),
  });
  try {
    if (note) hooks.onLog?.(note);
    hooks.onLog?.(`engine: ${engine.name}`);
    if (!fresh) await engine.setState(checkpoint.engineState);
    const progressFile = path.join(runDir, RUN_FILES.progress);
    const logEvery = Math.max(1, Math.floor(checkpoint.plan.iterationsPerEpoch));
    // the accountant takes ~1-2 ms: once an epoch, at checkpoints and at the end
    let privacy: PrivacySpent | undefined = dp && checkpoint.iteration > 0 ? epsilonSpent(dp, checkpoint.iteration) : undefined;
    const privacyAt = (iteration: number) => (dp ? (privacy = epsilonSpent(dp, iteration)) : undefined);
    const holdoutFile = path.join(runDir, RUN_FILES.holdout);
    const measureExposure = fs.existsSync(holdoutFile) ? exposureMonitor(data, loadEncoded(holdoutFile), checkpoint.plan.seed) : null;
    const exposureEvery = Math.max(1, Math.round(checkpoint.plan.totalIterations / 100));
    let exposure: number | undefined = measureExposure && checkpoint.iteration > 0 ? await measureExposure(engine) : undefined;
    const result = await runLoop({
      engine,
      data,
      plan: checkpoint.plan,
      startIteration: checkpoint.iteration,
      previousSeconds: checkpoint.elapsedSeconds,
      signal: hooks.signal,
      onNotice: (message) => hooks.onLog?.(message),
      afterStep: async (iteration) => {
        if (measureExposure && (iteration % exposureEvery === 0 || iteration === checkpoint.plan.totalIterations)) exposure = await measureExposure(engine);
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
      onCheckpoint: async (iteration, status, elapsedSeconds) => {
        const state = await engine.getState();
        writeCheckpoint(path.join(runDir, RUN_FILES.checkpoint), {
          ...checkpoint,
          createdAt: new Date().toISOString(),
          engineName: engine.name,
          iteration,
          status,
          elapsedSeconds,
          engineState: state,
        });
        Object.assign(info, { status, iteration, elapsedSeconds, engine: engine.name, updatedAt: new Date().toISOString() }, dp ? { privacySpent: privacyAt(iteration) } : {}, exposure !== undefined ? { exposure } : {});
        writeJson(path.join(runDir, RUN_FILES.run), info);
        if (status !== 'running') hooks.onLog?.(`checkpoint written at iteration ${iteration} (${status})`);
      },
    });
    return {
      runDir,
      status: result.status,
      iteration: result.iteration,
      totalIterations: checkpoint.plan.totalIterations,
      elapsedSeconds: result.elapsedSeconds,
      losses: result.losses,
      engine: engine.name,
      // the last checkpoint (written at result.iteration, whatever the status) computed both
      ...(privacy ? { privacy } : {}),
      ...(exposure !== undefined ? { exposure } : {}),
    };
  } finally {
    engine.dispose();
  }
}

export async function startTraining(request: TrainRequest, hooks: RunHooks = {}): Promise<RunSummary> {
  const runDir = path.resolve(request.runDir);
  if (fs.existsSync(path.join(runDir, RUN_FILES.checkpoint))) {
    throw new Error(`${runDir} already holds a training run: continue it with \`dg train --resume ${request.runDir}\` or choose another --out`);
  }
  const seed = request.seed ?? 0;
  let dataset: Dataset;
  let importReport: ImportReport | undefined;
  let source: string;
  if ('file' in request.data) {
    const read = await readDataset(request.data.file, request.data.options, hooks.onReadProgress);
    dataset = read.dataset;
    importReport = read.report;
    source = path.resolve(request.data.file);
    for (const warning of read.report.warnings) hooks.onLog?.(`warning: ${warning}`);
  } else {
    dataset = request.data.dataset;
    source = request.data.label;
  }
  const { train, holdout } = splitHoldout(dataset, request.holdoutFraction ?? defaultHoldoutFraction(dataset.series.length), seed);
  const longest = Math.max(...train.series.map((s) => s.length));
  const sampleLen = request.sampleLen ?? defaultSampleLen(longest);
  const autoNormalize = request.autoNormalize ?? defaultAutoNormalize(train);
  const encoder = fitEncoder(train, { sampleLen, autoNormalize });
  const data = encode(encoder, train);
  const batchSize = Math.min(request.batchSize ?? 100, data.n);
  const model = modelConfig(encoder.layout, { criticSteps: defaultCriticSteps(data.n, batchSize), ...request.model, sampleLen });
  if (batchSize < (request.batchSize ?? 100)) hooks.onLog?.(`batch size lowered to ${batchSize}: the training set has only ${data.n} series`);
  const perEpoch = iterationsPerEpoch(data.n, batchSize);
  // With DP-SGD the paper's 400 epochs whatever the size: the small-data extension buys noiseless
  // fidelity, while under DP every extra iteration needs more noise for the same epsilon (on MBA at
  // epsilon 4, 20,000 iterations would need sigma ~60 against 22 for 2,000; bench/PRIVACY.md).
  const totalIterations = request.iterations ?? perEpoch * (request.epochs ?? (request.dp ? PAPER_EPOCHS : defaultEpochs(data.n, batchSize)));
  if (!(totalIterations > 0)) throw new Error(`nothing to train: ${totalIterations} iterations`);
  const dp = request.dp
    ? planDp(request.dp, { trainingSeries: data.n, batchSize, criticSteps: model.criticSteps, hasAuxCritic: model.auxCriticHidden.length > 0, iterations: totalIterations })
    : undefined;
  const plan: TrainingPlan = {
    seed,
    batchSize,
    iterationsPerEpoch: perEpoch,
    totalIterations,
    checkpointEvery: request.checkpointEvery ?? Math.max(50, Math.min(1000, Math.round(totalIterations / 10))),
    engine: request.engine ?? 'auto',
    ...(dp ? { dp } : {}),
  };
  fs.mkdirSync(runDir, { recursive: true });
  fs.rmSync(path.join(runDir, RUN_FILES.progress), { force: true });
  saveEncoded(path.join(runDir, RUN_FILES.train), data);
  if (holdout) saveEncoded(path.join(runDir, RUN_FILES.holdout), encode(encoder, holdout));
  const now = new Date().toISOString();
  const info: RunInfo = {
    source,
    readOptions: 'file' in request.data ? request.data.options : undefined,
    importReport,
    trainSeries: data.n,
    holdoutSeries: holdout?.series.length ?? 0,
    holdoutIds: holdout?.series.map((s) => s.id) ?? [],
    plan,
    engine: plan.engine,
    status: 'running',
    iteration: 0,
    startedAt: now,
    updatedAt: now,
    elapsedSeconds: 0,
  };
  const checkpoint: Checkpoint = {
    format: 'dg-checkpoint',
    version: 1,
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
  hooks.onLog?.(
    `training on ${data.n} series (${holdout ? `${holdout.series.length} held out, ` : ''}T=${encoder.layout.maxLength}, S=${sampleLen}, ` +
      `auto-normalization ${encoder.autoNormalize ? 'on' : 'off'}), ` +
      `batch ${batchSize}, ${model.criticSteps} critic step${model.criticSteps === 1 ? '' : 's'} per iteration, ${totalIterations} iterations (${(totalIterations / perEpoch).toFixed(1)} epochs), seed ${seed}`,
  );
  if (dp) for (const line of describeDp(dp, totalIterations)) hooks.onLog?.(line);
  else if (request.iterations === undefined && request.epochs === undefined && defaultEpochs(data.n, batchSize) > PAPER_EPOCHS) {
    hooks.onLog?.(
      `note: with ${data.n} series the default trains ${(totalIterations / perEpoch).toFixed(0)} epochs for fidelity, and so long a training on few series lets the model memorize them ` +
        '(on MBA, a membership attack on the synthetic data rose from AUC 0.56 at 2,000 iterations to 0.73 at 20,000: bench/PRIVACY.md). ' +
        "dg evaluate's privacy review measures it; fewer --iterations or --dp-epsilon E trade fidelity for privacy",
    );
  }
  return runTraining(runDir, checkpoint, data, info, hooks, true);
}

/** "N iterations spend epsilon E at delta D" */
function spending(dp: DpPlan, iterations: number): string {
  const spent = epsilonSpent(dp, iterations);
  return `${iterations} iterations spend epsilon ${spent.epsilon.toFixed(3)} at delta ${formatDelta(spent.delta)}`;
}

function describeDp(dp: DpPlan, iterations: number): string[] {
  const noise = dp.targetEpsilon !== undefined ? `noise multiplier ${dp.noiseMultiplier.toPrecision(4)} (solved for epsilon ${dp.targetEpsilon})` : `noise multiplier ${dp.noiseMultiplier}`;
  return [
    `DP-SGD: ${noise}, clip norm ${dp.clipNorm}, Poisson-sampled batches of ${dp.expectedBatch} series on average (rate ${dp.samplingRate.toPrecision(3)}); ` +
      spending(dp, iterations),
    'DP-SGD protects what the model learns from the training series; the value ranges and category lists of the schema were read from the data ' +
      'itself and shape the synthetic data as they are: give them in a schema file (--schema) where they must not be disclosed',
  ];
}

export function readRun(runDir: string): { checkpoint: Checkpoint; info: RunInfo } {
  const file = path.join(runDir, RUN_FILES.checkpoint);
  if (!fs.existsSync(file)) throw new Error(`${runDir} holds no checkpoint (${RUN_FILES.checkpoint}): train first with \`dg train FILE --out ${runDir}\``);
  const info = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.run), 'utf8')) as RunInfo;
  return { checkpoint: readCheckpoint(file), info };
}

export async function resumeTraining(runDir: string, hooks: RunHooks = {}, overrides: { iterations?: number; engine?: EngineKind } = {}): Promise<RunSummary> {
  const dir = path.resolve(runDir);
  const { checkpoint, info } = readRun(dir);
  const plan = { ...checkpoint.plan, ...(overrides.iterations ? { totalIterations: overrides.iterations } : {}), ...(overrides.engine ? { engine: overrides.engine } : {}) };
  if (checkpoint.iteration >= plan.totalIterations) {
    hooks.onLog?.(`run is already complete (${checkpoint.iteration}/${plan.totalIterations} iterations)`);
    return { runDir: dir, status: 'complete', iteration: checkpoint.iteration, totalIterations: plan.totalIterations, elapsedSeconds: checkpoint.elapsedSeconds, engine: checkpoint.engineName };
  }
  hooks.onLog?.(`resuming at iteration ${checkpoint.iteration} of ${plan.totalIterations}`);
  if (plan.dp && plan.totalIterations !== checkpoint.plan.totalIterations) {
    hooks.onLog?.(`DP-SGD: ${spending(plan.dp, plan.totalIterations)}` +
      (plan.dp.targetEpsilon !== undefined ? ` (the run's noise was set for epsilon ${plan.dp.targetEpsilon} over ${checkpoint.plan.totalIterations})` : ''));
  }
  const data = loadEncoded(path.join(dir, RUN_FILES.train));
  return runTraining(dir, { ...checkpoint, plan }, data, { ...info, plan }, hooks, false);
}

export interface GenerateRequest {
  runDir: string;
  n: number;
  seed?: number;
  /** Attribute rows in the schema's attribute order (user units/labels): one generated series per row. */
  givenAttributes?: Value[][];
  engine?: EngineKind;
  onLog?: (message: string) => void;
  /** Series generated so far, after each part. */
  onProgress?: (done: number, total: number) => void;
  /** Series per part (a multiple of GENERATION_BLOCK); default: generationPartSeries. */
  partSeries?: number;
  /** Stops before the next part with an error (an export in progress then removes its file). */
  signal?: AbortSignal;
}

/** Rows (series x steps) per generated part: a part's encoded and decoded copies stay in the tens of MB. */
const PART_ROWS = 1_000_000;

/** Series per part: whole noise blocks (so parts generate exactly what one call would), about PART_ROWS rows. */
function generationPartSeries(maxLength: number): number {
  return GENERATION_BLOCK * Math.max(1, Math.floor(PART_ROWS / (GENERATION_BLOCK * maxLength)));
}

/**
 * Generates a run's series in parts, decoded into the user's units (ids `synthetic-<i>` across parts),
 * so any number of series can be written in bounded memory. The same seed gives the same series
 * however they are split. Always yields at least one part (an empty one for n = 0).
 */
export async function* generatePartsFromRun(request: GenerateRequest): AsyncGenerator<Dataset> {
  const { checkpoint } = readRun(path.resolve(request.runDir));
  const { encoder } = checkpoint;
  const seed = request.seed ?? checkpoint.plan.seed + 1;
  const { engine, note } = await createEngine(request.engine ?? checkpoint.plan.engine, { config: checkpoint.model, seed });
  try {
    if (note) request.onLog?.(note);
    // A fresh noise stream from the generation seed: the same seed gives the same synthetic data.
    await engine.setState({ ...checkpoint.engineState, counters: { ...checkpoint.engineState.counters, noisePosition: 0 } });
    const given = request.givenAttributes ? encodeAttributes(encoder, request.givenAttributes) : undefined;
    const width = widthOf(encoder.layout.attributes);
    const n = request.givenAttributes ? request.givenAttributes.length : request.n;
    const partSeries = request.partSeries ?? generationPartSeries(encoder.layout.maxLength);
    if (!Number.isInteger(partSeries) || partSeries < 1 || (partSeries < n && partSeries % GENERATION_BLOCK !== 0)) {
      throw new Error(`series per part must be a positive multiple of ${GENERATION_BLOCK}, got ${partSeries}`);
    }
    const generatePart = (start: number) => {
      const count = Math.min(partSeries, n - start);
      const givenAttributes = given?.subarray(start * width, (start + count) * width);
      return engine.generate(count, givenAttributes ? { givenAttributes } : {});
    };
    let next: Promise<GeneratedBatch> | undefined = generatePart(0);
    try {
      for (let start = 0; next; start += partSeries) {
        const out = await next;
        if (request.signal?.aborted) throw new Error('generation cancelled');
        // The next part is generated (off this thread on the native engines) while this one is written.
        next = start + partSeries < n ? generatePart(start + partSeries) : undefined;
        const ids = Array.from({ length: out.size }, (_, i) => `synthetic-${start + i}`);
        yield decode(encoder, { n: out.size, attributes: out.attributes, additionalAttributes: out.additionalAttributes, features: out.features, lengths: out.lengths, ids });
        request.onProgress?.(start + out.size, n);
      }
    } finally {
      // a consumer that stopped early leaves a part in flight: its result or error is not wanted
      next?.catch(() => {});
    }
  } finally {
    engine.dispose();
  }
}

/** Generates n series from a run's latest checkpoint, decoded into the user's units, as one dataset. */
export async function generateFromRun(request: GenerateRequest): Promise<Dataset> {
  let whole: Dataset | undefined;
  for await (const part of generatePartsFromRun(request)) {
    if (!whole) whole = part;
    else for (const series of part.series) whole.series.push(series);
  }
  return whole!;
}

/** The run's real series (training and holdout) decoded back to user units, for evaluation. */
/** A run's training and holdout series, decoded; `run` when the caller has read it already. */
export function runDatasets(runDir: string, run = readRun(path.resolve(runDir))): { encoder: EncoderState; train: Dataset; holdout?: Dataset } {
  const dir = path.resolve(runDir);
  const { checkpoint } = run;
  const load = (file: string) => {
    const e = loadEncoded(file);
    return decode(checkpoint.encoder, { ...e, ids: e.ids });
  };
  const holdoutFile = path.join(dir, RUN_FILES.holdout);
  return { encoder: checkpoint.encoder, train: load(path.join(dir, RUN_FILES.train)), holdout: fs.existsSync(holdoutFile) ? load(holdoutFile) : undefined };
}

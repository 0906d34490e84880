/**
 * A training run on disk, and generating from it.
 *
 * RUN_DIR/
 *   run.json        what was trained on and how, status, progress (human-readable, rewritten atomically)
 *   checkpoint.dgc  model + encoder + engine state + loop position (see checkpoint.ts)
 *   train.dgt       the encoded training series, so resume needs no re-import and continues exactly
 *   holdout.dgt     encoded real series kept out of training (when a holdout fraction is set)
 *   progress.jsonl  one line of losses per logged iteration (the training curve)
 *   released-attributes.json   optional: a table that replaces the attribute generator when an
 *                   attribute's distribution is hidden (released-attributes.ts); generation draws from it
 *
 * Starting and resuming a run (planning, DP accounting, exposure) is core/api/training.ts's job.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset, ImportReport, Value } from '../data/types.ts';
import type { ReadOptions } from '../data/index.ts';
import { timesOf } from '../data/time-pattern.ts';
import { decode, encodeAttributes, type EncoderState } from '../encoding/encoder.ts';
import { widthOf, type EncodedDataset } from '../encoding/types.ts';
import type { ModelConfig } from '../model/config.ts';
import { GENERATION_BLOCK, type Engine, type GeneratedBatch } from '../model/engine.ts';
import type { GuardOutcome } from './privacy-guard.ts';
import { createEngine, type EngineKind } from '../model/engines.ts';
import { ApiError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { readTensorFile, writeTensorFile } from '../util/tensor-file.ts';
import { readCheckpoint, type Checkpoint, type TrainingPlan } from './checkpoint.ts';
import { fromNoiseStart, generationState } from './generator-average.ts';
import { loadGenerator, readModelFile } from './model-file.ts';
import { drawReleasedRows, readReleasedAttributes, RELEASED_ATTRIBUTES_FILE, type ReleasedAttributes } from './released-attributes.ts';

/** Held while a process writes a run folder (training, hiding): a second writer is refused, a crashed one's lock is stale. */
export const RUN_LOCK = 'training.lock';

export const RUN_FILES = {
  run: 'run.json',
  checkpoint: 'checkpoint.dgc',
  train: 'train.dgt',
  holdout: 'holdout.dgt',
  progress: 'progress.jsonl',
  releasedAttributes: RELEASED_ATTRIBUTES_FILE,
} as const;

/** What run.json says. */
export interface RunInfo {
  /** Which run this folder holds (the checkpoint and the encoded data carry it too). */
  runId?: string;
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
  privacySpent?: { epsilon: number; delta: number; order?: number };
  /** Runs with a holdout: the critic's membership AUC, training vs held-out series, at the last checkpoint. */
  exposure?: number;
  /** What the privacy guard did (core/train/privacy-guard.ts): stopped the run and kept an earlier state, held, capped the schedule, or off. */
  privacyGuard?: GuardOutcome;
  hiding?: HidingRecord;
}

/** What run.json records of hidden attributes (the specs as asked, and what they did to this data). */
export interface HidingRecord {
  specs: Array<{ attribute: string; mode: 'drop' | 'coarsen' | 'replace'; minSeries?: number; target?: 'uniform' | Record<string, number> }>;
  /** Attribute columns left out of training and output. */
  dropped: string[];
  /** Per coarsened attribute: the label rare categories became, and which categories were merged into it. */
  merged: Record<string, { label: string; categories: string[] }>;
  /** The released attribute table, once written (released-attributes.json). */
  released?: { attribute: string; target: 'uniform' | 'table'; createdAt: string; unseen: string[]; generatedShare: Record<string, number> };
}

export function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, [Buffer.from(JSON.stringify(value, null, 2) + '\n')]);
}

export function saveEncoded(file: string, data: EncodedDataset, runId?: string): void {
  writeTensorFile(file, { layout: data.layout, ids: data.ids, n: data.n, ...(runId ? { runId } : {}) }, [
    { name: 'attributes', shape: [data.n, data.attributes.length / Math.max(data.n, 1)], data: data.attributes },
    { name: 'additionalAttributes', shape: [data.n, data.additionalAttributes.length / Math.max(data.n, 1)], data: data.additionalAttributes },
    { name: 'features', shape: [data.n, data.features.length / Math.max(data.n, 1)], data: data.features },
    { name: 'lengths', shape: [data.n], data: data.lengths },
  ]);
}

/** A run folder whose files come from two runs (two trainers wrote into it, or files were copied in). */
function mixedRun(file: string, what: string, found: string, expected: string): ApiError {
  return new ApiError('data_error', `${file} belongs to another run than ${what} (run ${found}, not ${expected}): this folder mixes the files of two runs`, {
    where: { file },
    hint: { text: 'train again into an empty folder; keep one run per folder' },
  });
}

/** The encoded series of a run folder; `runId` (the checkpoint's) is checked against the file's when both have one. */
export function loadEncoded(file: string, runId?: string): EncodedDataset {
  const { meta: stored, arrays } = readTensorFile<Pick<EncodedDataset, 'layout' | 'ids' | 'n'> & { runId?: string }>(file);
  const { runId: fileRun, ...meta } = stored;
  if (runId && fileRun && fileRun !== runId) throw mixedRun(file, 'its checkpoint', fileRun, runId);
  const get = (name: string) => arrays.get(name)!.data;
  return {
    ...meta,
    attributes: get('attributes') as Float32Array,
    additionalAttributes: get('additionalAttributes') as Float32Array,
    features: get('features') as Float32Array,
    lengths: get('lengths') as Int32Array,
  };
}

export function readRun(runDir: string): { checkpoint: Checkpoint; info: RunInfo } {
  const file = path.join(runDir, RUN_FILES.checkpoint);
  if (!fs.existsSync(file))
    throw new ApiError('not_found', `${runDir} holds no checkpoint (${RUN_FILES.checkpoint}): it is not a training run, or its training has not written one yet`, {
      where: { file: runDir },
      hint: { text: 'train a model into this folder first', action: 'train' },
    });
  const checkpoint = readCheckpoint(file);
  const info = readRunInfo(runDir);
  if (checkpoint.runId && info.runId && checkpoint.runId !== info.runId) throw mixedRun(path.join(runDir, RUN_FILES.run), 'the checkpoint', info.runId, checkpoint.runId);
  return { checkpoint, info };
}

/** run.json, or a clear error when it is missing or damaged (the checkpoint beside it still holds the model). */
function readRunInfo(runDir: string): RunInfo {
  const file = path.join(runDir, RUN_FILES.run);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ApiError('not_found', `${runDir} has a checkpoint but no ${RUN_FILES.run}: the run folder is incomplete`, { where: { file } });
  }
  try {
    return JSON.parse(text) as RunInfo;
  } catch (error) {
    throw new ApiError('data_error', `${file} is damaged (${(error as Error).message}): it was not written by this app, or was edited or truncated`, {
      where: { file },
      hint: { text: 'restore the run folder from a backup; the model itself is in the checkpoint beside it' },
    });
  }
}

/** Keeps the training curve's lines up to `iteration` (a run resumed from a checkpoint redoes the iterations after it). */
export function truncateProgress(runDir: string, iteration: number): void {
  const file = path.join(runDir, RUN_FILES.progress);
  if (!fs.existsSync(file)) return;
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { iteration: number }).iteration <= iteration;
      } catch {
        return false; // a line cut short by a crash
      }
    });
  writeFileAtomic(file, [Buffer.from(lines.map((l) => `${l}\n`).join(''))]);
}

/** What generation starts from: a run folder's checkpoint or a model file (core/train/model-file.ts). */
export interface GenerationSource {
  model: ModelConfig;
  encoder: EncoderState;
  /** The seed when the request gives none. */
  defaultSeed: number;
  /** The engine when the request names none. */
  engine: EngineKind;
  /** Puts the weights into an engine made with `model` and the generation seed; its noise stream starts at 0. */
  load(engine: Engine): Promise<void>;
  /** A released attribute table (a hidden attribute's distribution) standing in for the attribute generator. */
  releasedAttributes: ReleasedAttributes | null;
}

/** A run folder's latest checkpoint as a generation source (the whole engine state, the noise stream reset). */
export function runSource(runDir: string): GenerationSource {
  const { checkpoint } = readRun(path.resolve(runDir));
  return {
    model: checkpoint.model,
    encoder: checkpoint.encoder,
    defaultSeed: checkpoint.plan.seed + 1,
    engine: checkpoint.plan.engine,
    load: (engine) => engine.setState(fromNoiseStart(generationState(checkpoint.engineState))),
    releasedAttributes: readReleasedAttributes(path.resolve(runDir), checkpoint.runId),
  };
}

/** A model file (dg export-model) as a generation source: its generator weights in a fresh engine. */
export function modelFileSource(file: string): GenerationSource {
  const { header, tensors } = readModelFile(file);
  return {
    model: header.model,
    encoder: header.encoder,
    defaultSeed: header.defaultSeed,
    engine: 'auto',
    load: (engine) => loadGenerator(engine, tensors),
    releasedAttributes: header.attributeTable ?? null,
  };
}

/** A run folder, or a model file when `location` is a file. */
export function openGenerationSource(location: string): GenerationSource {
  const resolved = path.resolve(location);
  let isFile = path.extname(resolved).toLowerCase() === '.dgm';
  try {
    isFile = fs.statSync(resolved).isFile();
  } catch {
    // missing: readModelFile or readRun says so, in its own words
  }
  return isFile ? modelFileSource(resolved) : runSource(resolved);
}

export interface GenerateRequest {
  /** A run folder, or a model file written by dg export-model. */
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
export async function* generatePartsFromRun(request: GenerateRequest, opened?: GenerationSource): AsyncGenerator<Dataset> {
  const source = opened ?? openGenerationSource(request.runDir);
  const { encoder } = source;
  const seed = request.seed ?? source.defaultSeed;
  const { engine, note } = await createEngine(request.engine ?? source.engine, { config: source.model, seed });
  try {
    if (note) request.onLog?.(note);
    // A fresh noise stream from the generation seed: the same seed gives the same synthetic data.
    await source.load(engine);
    const width = widthOf(encoder.layout.attributes);
    const n = request.givenAttributes ? request.givenAttributes.length : request.n;
    // Rows given by the caller win; else a released attribute table (a hidden distribution) stands in for
    // the attribute generator: rows drawn from it, min/max and features generated conditioned on them.
    const table = request.givenAttributes ? null : source.releasedAttributes;
    const given = request.givenAttributes ? encodeAttributes(encoder, request.givenAttributes) : undefined;
    let fromTable: ((start: number, count: number) => Float32Array) | undefined;
    if (table) {
      const names = encoder.attributes.map((c) => c.name);
      if (table.attributes.join('\u0000') !== names.join('\u0000')) {
        throw new ApiError('data_error', `${RELEASED_ATTRIBUTES_FILE} has the attributes ${table.attributes.join(', ')}, but the run has ${names.join(', ')}`, {
          where: { file: path.resolve(request.runDir) },
          hint: { text: 'write the table again with dg hide RUN_DIR' },
        });
      }
      request.onLog?.(
        `attributes drawn from the released attribute table (${table.hidden.attribute}: ${table.hidden.target === 'uniform' ? 'uniform' : "the custodian's frequencies"}), not the attribute generator`,
      );
      const encodedTable = encodeAttributes(encoder, table.rows);
      const picked = drawReleasedRows(table, n, seed);
      // encoded a part at a time: n rows of encoded attributes could be gigabytes
      fromTable = (start, count) => {
        const part = new Float32Array(count * width);
        for (let i = 0; i < count; i++) part.set(encodedTable.subarray(picked[start + i] * width, (picked[start + i] + 1) * width), i * width);
        return part;
      };
    }
    const partSeries = request.partSeries ?? generationPartSeries(encoder.layout.maxLength);
    if (!Number.isInteger(partSeries) || partSeries < 1 || (partSeries < n && partSeries % GENERATION_BLOCK !== 0)) {
      throw new ApiError('invalid_argument', `series per part must be a positive multiple of ${GENERATION_BLOCK}, got ${partSeries}`);
    }
    const generatePart = (start: number) => {
      const count = Math.min(partSeries, n - start);
      const givenAttributes = fromTable ? fromTable(start, count) : given?.subarray(start * width, (start + count) * width);
      return engine.generate(count, givenAttributes ? { givenAttributes } : {});
    };
    let next: Promise<GeneratedBatch> | undefined = generatePart(0);
    try {
      for (let start = 0; next; start += partSeries) {
        const out = await next;
        if (request.signal?.aborted) throw new ApiError('cancelled', 'generation cancelled');
        // The next part is generated (off this thread on the native engines) while this one is written.
        next = start + partSeries < n ? generatePart(start + partSeries) : undefined;
        const ids = Array.from({ length: out.size }, (_, i) => `synthetic-${start + i}`);
        yield withTimes(decode(encoder, { n: out.size, attributes: out.attributes, additionalAttributes: out.additionalAttributes, features: out.features, lengths: out.lengths, ids }));
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

/**
 * Generated series get time stamps continuing the real data's pattern (its most common start and step, in
 * its type and format) when the schema records one; else export numbers the steps.
 */
export function withTimes(dataset: Dataset): Dataset {
  const pattern = dataset.schema.columns.find((c) => c.role === 'time')?.time;
  if (!pattern) return dataset;
  let longest: Value[] = [];
  for (const series of dataset.series) {
    if (series.length > longest.length) longest = timesOf(pattern, series.length);
    series.times = longest.length === series.length ? longest : longest.slice(0, series.length);
  }
  return dataset;
}

/** Generates n series from a run's latest checkpoint (or a model file), decoded into the user's units, as one dataset. */
export async function generateFromRun(request: GenerateRequest): Promise<Dataset> {
  let whole: Dataset | undefined;
  for await (const part of generatePartsFromRun(request)) {
    if (!whole) whole = part;
    else for (const series of part.series) whole.series.push(series);
  }
  return whole!;
}

/** A run's training and holdout series, decoded; `run` when the caller has read it already. */
export function runDatasets(runDir: string, run = readRun(path.resolve(runDir))): { encoder: EncoderState; train: Dataset; holdout?: Dataset } {
  const dir = path.resolve(runDir);
  const { checkpoint } = run;
  const load = (file: string) => {
    const e = loadEncoded(file, checkpoint.runId);
    return decode(checkpoint.encoder, { ...e, ids: e.ids });
  };
  const holdoutFile = path.join(dir, RUN_FILES.holdout);
  return { encoder: checkpoint.encoder, train: load(path.join(dir, RUN_FILES.train)), holdout: fs.existsSync(holdoutFile) ? load(holdoutFile) : undefined };
}

/**
 * Exporting a run's model as a shareable file (core/train/model-file.ts): the generator's weights and
 * the public part of the encoder; everything else the run folder holds about the training data stays
 * behind (series ids, holdout list, counts, losses, exposure, the critics, the optimizer state).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnSchema, Schema } from '../data/types.ts';
import type { EncoderState } from '../encoding/encoder.ts';
import { epsilonSpent } from '../privacy/dp.ts';
import { generationState } from '../train/generator-average.ts';
import { generatorTensors, MODEL_FILE_EXTENSION, writeModelFile } from '../train/model-file.ts';
import { readReleasedAttributes } from '../train/released-attributes.ts';
import { readRun } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';

/**
 * A column as generation needs it: name, kind and role, the categories (the labels generated) and the
 * range (the scaling), and the decimals export writes. Data-derived, as generation needs them: unless the
 * schema gave them, the range and the category list were read from the training data (training says so).
 */
function generationColumn(c: ColumnSchema): ColumnSchema {
  return {
    name: c.name,
    kind: c.kind,
    role: c.role,
    ...(c.categories ? { categories: c.categories } : {}),
    ...(c.min !== undefined ? { min: c.min } : {}),
    ...(c.max !== undefined ? { max: c.max } : {}),
    ...(c.decimals !== undefined ? { decimals: c.decimals } : {}),
    // a wide input's own column names for the steps (header names, not data): wide exports write them
    ...(c.wideColumns ? { wideColumns: c.wideColumns } : {}),
  };
}

/**
 * The encoder with what generation needs and nothing else: the schema keeps the layout (the id and time
 * columns' names, which export writes), the attribute and feature columns as generationColumn has them,
 * the id column as a bare name (an id column's category list would be the series ids) and the time
 * column's stamp pattern (its start is the data's most common first stamp: generated series continue it);
 * ignored columns and anything else the schema carried go.
 *
 * `boundarySnap` (the distance from each bound to the nearest other value in the training data: a
 * data-derived figure) is kept without DP only: decoding snaps generated values onto a bound the data
 * hold often, and the run folder's generation does it too. A DP-SGD model file leaves it out, since DP
 * does not cover it (generated values are then not snapped onto the bounds).
 */
export function publicEncoder(encoder: EncoderState, options: { dp: boolean }): EncoderState {
  const attributes = encoder.attributes.map(generationColumn);
  const features = encoder.features.map(generationColumn);
  const modelled = new Map([...attributes, ...features].map((c) => [c.name, c]));
  const columns = encoder.schema.columns.flatMap((c): ColumnSchema[] => {
    if (c.role === 'id') return [{ name: c.name, kind: c.kind, role: c.role }];
    if (c.role === 'time') return [{ name: c.name, kind: c.kind, role: c.role, ...(c.time ? { time: c.time } : {}) }];
    const kept = modelled.get(c.name);
    return kept ? [kept] : [];
  });
  const schema: Schema = { version: 1, layout: encoder.schema.layout, columns, maxLength: encoder.schema.maxLength, longSeries: encoder.schema.longSeries, missing: encoder.schema.missing };
  const { boundarySnap, ...rest } = encoder;
  return {
    ...rest,
    schema,
    attributes,
    features,
    // data-derived (see above): kept only where the model has no DP guarantee to keep
    ...(boundarySnap && !options.dp ? { boundarySnap } : {}),
  };
}

export interface ModelExportRequest {
  runDir: string;
  out: string;
  /** The app version, recorded in the file. */
  version?: string;
}

export interface ModelExportResult {
  file: string;
  bytes: number;
  /** The run's iteration the weights are from. */
  iteration: number;
  /** DP-SGD runs: the guarantee the file carries. */
  privacy?: { epsilon: number; delta: number };
}

/** Writes the run's latest checkpoint as a model file (atomically). */
export function exportModel(request: ModelExportRequest): ModelExportResult {
  const out = path.resolve(request.out);
  if (path.extname(out).toLowerCase() !== MODEL_FILE_EXTENSION)
    throw new ApiError('invalid_argument', `a model file is named *${MODEL_FILE_EXTENSION}, got ${path.basename(out)}`, {
      hint: { text: `name it like model${MODEL_FILE_EXTENSION}`, option: 'out' },
    });
  const runDir = path.resolve(request.runDir);
  const { checkpoint } = readRun(runDir);
  // a hidden attribute's released table goes in place of the attribute generator, whose weights hold the
  // learned marginal it hides
  const released = readReleasedAttributes(runDir, checkpoint.runId);
  const attributeTable = released ? (({ runId: _runId, ...table }) => table)(released) : undefined;
  const dp = checkpoint.plan.dp;
  const spent = dp ? epsilonSpent(dp, checkpoint.iteration) : undefined;
  const privacy = spent ? { epsilon: spent.epsilon, delta: spent.delta } : undefined;
  writeModelFile(
    out,
    {
      createdAt: new Date().toISOString(),
      ...(request.version ? { writtenBy: `DoppelGANger Studio ${request.version}` } : {}),
      model: checkpoint.model,
      encoder: publicEncoder(checkpoint.encoder, { dp: dp !== undefined }),
      defaultSeed: checkpoint.plan.seed + 1,
      ...(privacy ? { privacy } : {}),
      ...(attributeTable ? { attributeTable } : {}),
    },
    generatorTensors(checkpoint.model, generationState(checkpoint.engineState).tensors, { attributeTable: attributeTable !== undefined }),
  );
  return { file: out, bytes: fs.statSync(out).size, iteration: checkpoint.iteration, ...(privacy ? { privacy } : {}) };
}

/**
 * Replacing an attribute's distribution on a trained run (`dg hide RUN_DIR --replace isp=uniform`, and at
 * the end of a training run that asked for it): draws attribute rows from the trained attribute generator,
 * resamples them to the target (core/privacy/hiding.ts) and writes the run's released attribute table
 * (core/train/released-attributes.ts), which generation then uses instead of the attribute generator.
 * The feature generator (and the min/max generator, conditioned on the table's rows) stays as trained.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CsvTokenizer, sniffDelimiter } from '../data/csv.ts';
import type { Value } from '../data/types.ts';
import { decode } from '../encoding/encoder.ts';
import { GENERATION_BLOCK } from '../model/engine.ts';
import { createEngine, type EngineKind } from '../model/engines.ts';
import { checkHiding, DEFAULT_SAMPLE_ROWS, resampleToTarget, targetProbabilities, type ReplaceSpec } from '../privacy/hiding.ts';
import { fromNoiseStart, generationState } from '../train/generator-average.ts';
import { readRun, RUN_FILES, RUN_LOCK, writeJson, type HidingRecord } from '../train/run-folder.ts';
import { RELEASED_ATTRIBUTES_FILE, readReleasedAttributes, type ReleasedAttributes } from '../train/released-attributes.ts';
import { ApiError } from '../util/errors.ts';
import { acquireLock } from '../util/lock-file.ts';
import { Rng } from '../util/rng.ts';

export { readReleasedAttributes, type ReleasedAttributes };

export interface HideRunRequest {
  runDir: string;
  replace: ReplaceSpec;
  /** Rows drawn from the trained attribute generator (default 20,000); the table has as many. */
  sampleRows?: number;
  /** Seed of the draw and the resampling (default: the run's seed + 2, apart from generation's + 1). */
  seed?: number;
  engine?: EngineKind;
}

export interface HideRunResult {
  file: string;
  attribute: string;
  rows: number;
  probabilities: Record<string, number>;
  generatedShare: Record<string, number>;
  unseen: string[];
  seconds: number;
}

export async function hideRun(request: HideRunRequest, onLog?: (message: string) => void): Promise<HideRunResult> {
  const dir = path.resolve(request.runDir);
  if (!fs.existsSync(dir)) throw new ApiError('not_found', `no run folder at ${dir}`, { where: { file: dir } });
  const release = acquireLock(path.join(dir, RUN_LOCK), { what: `the run folder ${dir}` });
  try {
    return await replaceDistribution(dir, request, onLog);
  } finally {
    release();
  }
}

/** The work of hideRun, for a caller that holds the run folder's lock already (the end of a training run). */
export async function replaceDistribution(dir: string, request: HideRunRequest, onLog?: (message: string) => void): Promise<HideRunResult> {
  const started = performance.now();
  const { checkpoint, info } = readRun(dir);
  const { encoder } = checkpoint;
  const spec = request.replace;
  checkHiding([spec], encoder.attributes);
  const column = encoder.attributes.findIndex((c) => c.name === spec.attribute);
  const probabilities = targetProbabilities(spec, encoder.attributes[column].categories ?? []);
  const size = request.sampleRows ?? DEFAULT_SAMPLE_ROWS;
  if (!Number.isInteger(size) || size < 100)
    throw new ApiError('invalid_argument', `the sample of attribute rows must be 100 or more, got ${size}`, {
      hint: { text: 'draw 20,000 (the default)', option: 'sampleRows', value: DEFAULT_SAMPLE_ROWS },
    });
  const seed = request.seed ?? checkpoint.plan.seed + 2;
  const sample = await sampleAttributeRows(checkpoint, size, seed, request.engine, onLog);
  const table = resampleToTarget(sample, column, probabilities, size, new Rng(seed >>> 0, 0x68696465));
  for (const category of table.unseen) {
    onLog?.(
      `note: the trained generator never produced ${spec.attribute} '${category}' in ${size.toLocaleString('en-US')} draws: its series get the other attributes' overall generated distribution, and features the generator learned for no such series`,
    );
  }
  for (const { category, rows } of table.few) {
    onLog?.(`note: ${spec.attribute} '${category}' came up in only ${rows} of ${size.toLocaleString('en-US')} generated rows: its other attributes are drawn from those ${rows}`);
  }
  const createdAt = new Date().toISOString();
  const released: ReleasedAttributes = {
    format: 'dg-released-attributes',
    version: 1,
    ...(checkpoint.runId ? { runId: checkpoint.runId } : {}),
    createdAt,
    attributes: encoder.attributes.map((c) => c.name),
    hidden: { attribute: spec.attribute, target: spec.target === 'uniform' ? 'uniform' : 'table', probabilities },
    sample: { rows: size, seed },
    rows: table.rows,
    note:
      `Replaces the run's attribute generator: ${size} rows drawn from it, resampled so that '${spec.attribute}' follows the target exactly ` +
      'and the other attributes keep their conditional distribution given it (post-processing of the trained model, no new access to the data). ' +
      'Generation draws attribute rows from this table and generates min/max and features conditioned on them.',
  };
  const file = path.join(dir, RELEASED_ATTRIBUTES_FILE);
  writeJson(file, released);
  const hiding: HidingRecord = info.hiding ?? { specs: [], dropped: [], merged: {} };
  const specs = [...hiding.specs.filter((s) => s.mode !== 'replace'), { ...spec }];
  writeJson(path.join(dir, RUN_FILES.run), {
    ...info,
    hiding: { ...hiding, specs, released: { attribute: spec.attribute, target: released.hidden.target, createdAt, unseen: table.unseen, generatedShare: table.generatedShare } },
  });
  const seconds = (performance.now() - started) / 1000;
  onLog?.(
    `released attribute table written to ${file}: ${spec.attribute} follows ${spec.target === 'uniform' ? 'a uniform distribution' : 'the given frequencies'} (${size.toLocaleString('en-US')} rows, ${seconds.toFixed(1)} s)`,
  );
  return { file, attribute: spec.attribute, rows: size, probabilities, generatedShare: table.generatedShare, unseen: table.unseen, seconds };
}

/** `size` attribute rows from the trained generator (in the user's labels and units), in parts of whole noise blocks. */
async function sampleAttributeRows(
  checkpoint: ReturnType<typeof readRun>['checkpoint'],
  size: number,
  seed: number,
  engineKind: EngineKind | undefined,
  onLog?: (message: string) => void,
): Promise<Value[][]> {
  const { engine, note } = await createEngine(engineKind ?? checkpoint.plan.engine, { config: checkpoint.model, seed });
  try {
    if (note) onLog?.(note);
    await engine.setState(fromNoiseStart(generationState(checkpoint.engineState)));
    const rows: Value[][] = [];
    // features come along (the engines generate whole series); parts keep them to tens of MB
    const part = GENERATION_BLOCK * Math.max(1, Math.floor(200_000 / (GENERATION_BLOCK * checkpoint.encoder.layout.maxLength)));
    for (let start = 0; start < size; start += part) {
      const out = await engine.generate(Math.min(part, size - start));
      const decoded = decode(checkpoint.encoder, { n: out.size, attributes: out.attributes, additionalAttributes: out.additionalAttributes, features: out.features, lengths: out.lengths });
      for (const series of decoded.series) rows.push(series.attributes);
    }
    return rows;
  } finally {
    engine.dispose();
  }
}

/**
 * A custodian's table of frequencies from a CSV file: two columns, category and frequency (a count or a
 * share), an optional header row. Errors name the line.
 */
export function readTargetTable(file: string): Record<string, number> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    throw new ApiError('not_found', `cannot read the frequency table ${file}: ${(error as Error).message}`, { where: { file } });
  }
  const table: Record<string, number> = {};
  const problems: string[] = [];
  const tokenizer = new CsvTokenizer(sniffDelimiter(text.slice(0, 4096)), (fields, line) => {
    if (fields.length !== 2) {
      problems.push(`line ${line} has ${fields.length} fields, not 2 (category, frequency)`);
      return;
    }
    const [category, raw] = [fields[0].trim(), fields[1].trim()];
    const weight = Number(raw);
    if (raw === '' || Number.isNaN(weight)) {
      if (line === 1) return; // a header row
      problems.push(`line ${line}: the frequency of '${category}' is '${raw}', not a number`);
      return;
    }
    if (category in table) problems.push(`line ${line}: '${category}' is listed twice`);
    table[category] = weight;
  });
  tokenizer.push(text);
  tokenizer.end();
  if (problems.length) throw new ApiError('data_error', `${file}: ${problems[0]}`, { where: { file }, hint: { text: 'one row per category: category,frequency' } });
  if (Object.keys(table).length === 0) throw new ApiError('data_error', `${file} lists no category and frequency`, { where: { file }, hint: { text: 'one row per category: category,frequency' } });
  return table;
}

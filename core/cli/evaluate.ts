/**
 * `dg evaluate`: fidelity of a synthetic file against the real data (and an unseen holdout), as
 * metrics.json and a self-contained report.html.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDataset, type ReadOptions, type ReadProgress } from '../data/index.ts';
import { DataError, type Dataset } from '../data/types.ts';
import { evaluate, renderReport, summarize } from '../eval/index.ts';
import { runDatasets } from '../train/run.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';

export interface EvaluateRequest {
  /** Real data: a file (read with `options`) or a run directory (its training series and holdout). */
  real: { file: string } | { runDir: string };
  synthetic: string;
  holdout?: string;
  options: ReadOptions;
  outDir: string;
  target?: string;
  seed?: number;
  log: (message: string) => void;
  /** Progress of reading each file. */
  readingProgress?: (file: string) => ReadProgress;
}

/**
 * Reads a synthetic or holdout file with the real data's columns. Files written by `dg generate` carry
 * the real data's series id column (or `series_id`) and step column: read with those first, then with
 * the layout detected, then exactly like the real file.
 */
async function readLike(file: string, options: ReadOptions, real: Dataset, onProgress?: ReadProgress): Promise<Dataset> {
  const columns = { attributes: real.attributes.map((c) => c.name), features: real.features.map((c) => c.name) };
  const { idColumn: _id, timeColumn: _time, chunkSize: _chunk, schema: _schema, ...rest } = options;
  const { layout } = real.schema;
  const attempts: ReadOptions[] = [];
  if (layout.kind === 'long') attempts.push({ ...rest, ...columns, idColumn: layout.idColumn, timeColumn: layout.timeColumn });
  attempts.push({ ...rest, ...columns }, { ...options, ...columns, schema: undefined });
  for (const attempt of attempts.slice(0, -1)) {
    try {
      return (await readDataset(file, attempt, onProgress)).dataset;
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
    }
  }
  return (await readDataset(file, attempts[attempts.length - 1], onProgress)).dataset;
}

export async function runEvaluate(request: EvaluateRequest): Promise<{ metricsFile: string; reportFile: string; summary: string }> {
  const started = performance.now();
  let real: Dataset;
  let holdout: Dataset | undefined;
  if ('runDir' in request.real) {
    const run = runDatasets(request.real.runDir);
    real = run.train;
    holdout = run.holdout;
  } else {
    real = (await readDataset(request.real.file, request.options, request.readingProgress?.(request.real.file))).dataset;
  }
  if (request.holdout) holdout = await readLike(request.holdout, request.options, real, request.readingProgress?.(request.holdout));
  const synthetic = await readLike(request.synthetic, request.options, real, request.readingProgress?.(request.synthetic));
  request.log(`evaluating ${synthetic.series.length} synthetic series against ${real.series.length} real${holdout ? ` and ${holdout.series.length} holdout` : ''} series`);
  const metrics = evaluate({ real, synthetic, holdout, seed: request.seed, predictTarget: request.target });
  fs.mkdirSync(request.outDir, { recursive: true });
  const metricsFile = path.join(request.outDir, 'metrics.json');
  const reportFile = path.join(request.outDir, 'report.html');
  writeFileAtomic(metricsFile, [Buffer.from(JSON.stringify(metrics, null, 2) + '\n')]);
  const title = `Fidelity of ${path.basename(request.synthetic)}`;
  writeFileAtomic(reportFile, [Buffer.from(renderReport(metrics, { real, synthetic, holdout }, title))]);
  request.log(`evaluated in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return { metricsFile, reportFile, summary: summarize(metrics) };
}

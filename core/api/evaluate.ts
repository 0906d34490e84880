/**
 * Evaluation: fidelity of a synthetic file against the real data (and an unseen holdout), and its
 * privacy review, as metrics.json, privacy.json and a self-contained report.html.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDataset, type ReadOptions, type ReadProgress } from '../data/index.ts';
import { DataError, type Dataset } from '../data/types.ts';
import { evaluate, renderReport, summarize, type Metrics } from '../eval/index.ts';
import { encode } from '../encoding/encoder.ts';
import { createEngine } from '../model/engines.ts';
import { privacyReportSection } from '../privacy/report-section.ts';
import { escapeHtml } from '../util/html.ts';
import { sharingRecommendation, type SharingRecommendation } from './views.ts';
import { reviewPrivacy, type CriticScores, type PrivacyReview } from '../privacy/review.ts';
import type { Checkpoint } from '../train/checkpoint.ts';
import { engineStateOf } from '../train/generator-average.ts';
import { gatherRows } from '../train/loop.ts';
import { readRun, runDatasets } from '../train/run-folder.ts';
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
  /** The report's heading (default: "Fidelity and privacy of FILE"). */
  title?: string;
  /** Plot real training series one by one in the report (default true; false for a report to share). */
  realSeries?: boolean;
  log: (message: string) => void;
  /** Progress of reading each file. */
  readingProgress?: (file: string) => ReadProgress;
}

/**
 * Reads a synthetic or holdout file with the real data's columns. Files written by `dg generate` carry
 * the real data's series id column (or `series_id`) and step column: read with those first, then with
 * the layout detected, then exactly like the real file.
 */
export async function readLike(file: string, options: ReadOptions, real: Dataset, onProgress?: ReadProgress): Promise<Dataset> {
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

/** The run's critic scoring series (the white-box membership attack), on the engine the run trained with. */
function criticScorer(checkpoint: Checkpoint): (members: Dataset, nonMembers: Dataset) => Promise<CriticScores> {
  return async (members, nonMembers) => {
    const { engine } = await createEngine(checkpoint.plan.engine, { config: checkpoint.model, seed: checkpoint.plan.seed });
    try {
      await engine.setState(engineStateOf(checkpoint.engineState));
      const categories = new Map(checkpoint.encoder.schema.columns.filter((c) => c.categories).map((c) => [c.name, new Set(c.categories)]));
      const encodable = (dataset: Dataset, series: Dataset['series'][number]) =>
        dataset.attributes.every((c, k) => !categories.has(c.name) || categories.get(c.name)!.has(String(series.attributes[k]))) &&
        dataset.features.every((c, f) => !categories.has(c.name) || (series.features[f] as string[]).every((v) => categories.get(c.name)!.has(String(v))));
      const score = async (dataset: Dataset) => {
        // a series with a label training never had cannot be a member: an attacker scores it lowest
        const out = new Float64Array(dataset.series.length).fill(-Infinity);
        const rows = dataset.series.flatMap((series, i) => (encodable(dataset, series) ? [i] : []));
        const e = encode(checkpoint.encoder, { ...dataset, series: rows.map((i) => dataset.series[i]) });
        for (let start = 0; start < e.n; start += 500) {
          const chunk = Int32Array.from({ length: Math.min(e.n, start + 500) - start }, (_, k) => start + k);
          (await engine.criticScores(gatherRows(e, chunk))).forEach((x, k) => (out[rows[start + k]] = x));
        }
        return out;
      };
      return { members: await score(members), nonMembers: await score(nonMembers) };
    } finally {
      engine.dispose();
    }
  };
}

export interface EvaluateResult {
  metricsFile: string;
  reportFile: string;
  privacyFile: string;
  summary: string;
  /** Whom the synthetic data can be shared with, and why (core/api/views.ts). */
  recommendation: SharingRecommendation;
  metrics: Metrics;
  privacy: PrivacyReview;
}

export async function runEvaluate(request: EvaluateRequest): Promise<EvaluateResult> {
  const started = performance.now();
  let real: Dataset;
  let holdout: Dataset | undefined;
  const run = 'runDir' in request.real ? readRun(path.resolve(request.real.runDir)) : undefined;
  if ('runDir' in request.real) {
    const datasets = runDatasets(request.real.runDir, run);
    real = datasets.train;
    holdout = datasets.holdout;
  } else {
    real = (await readDataset(request.real.file, request.options, request.readingProgress?.(request.real.file))).dataset;
  }
  if (request.holdout) holdout = await readLike(request.holdout, request.options, real, request.readingProgress?.(request.holdout));
  const synthetic = await readLike(request.synthetic, request.options, real, request.readingProgress?.(request.synthetic));
  request.log(`evaluating ${synthetic.series.length} synthetic series against ${real.series.length} real${holdout ? ` and ${holdout.series.length} holdout` : ''} series`);
  // a run's sample length: its seams (lags S, 2S, ...) are reported
  const metrics = evaluate({ real, synthetic, holdout, seed: request.seed, predictTarget: request.target, ...(run ? { sampleLen: run.checkpoint.encoder.sampleLen } : {}) });
  request.log('privacy review: copies, distance to closest record, membership attacks');
  const spent = run?.info.privacySpent;
  const privacy = await reviewPrivacy({
    train: real,
    holdout,
    synthetic,
    seed: request.seed,
    scoreWithCritic: run && holdout ? criticScorer(run.checkpoint) : undefined,
    dp: spent ? { epsilon: spent.epsilon, delta: spent.delta } : undefined,
  });
  fs.mkdirSync(request.outDir, { recursive: true });
  const metricsFile = path.join(request.outDir, 'metrics.json');
  const privacyFile = path.join(request.outDir, 'privacy.json');
  const reportFile = path.join(request.outDir, 'report.html');
  writeFileAtomic(metricsFile, [Buffer.from(JSON.stringify(metrics, null, 2) + '\n')]);
  writeFileAtomic(privacyFile, [Buffer.from(JSON.stringify(privacy, null, 2) + '\n')]);
  const title = request.title ?? `Fidelity and privacy of ${path.basename(request.synthetic)}`;
  const recommendation = sharingRecommendation(privacy);
  const lead = `<p class="summary"><strong>Sharing: ${escapeHtml(recommendation.label)}.</strong> ${escapeHtml(recommendation.summary)} The reasons are in the Privacy section below.</p>`;
  writeFileAtomic(reportFile, [Buffer.from(renderReport(metrics, { real, synthetic, holdout }, title, [privacyReportSection(privacy)], lead, { realSeries: request.realSeries !== false }))]);
  request.log(`evaluated in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return { metricsFile, reportFile, privacyFile, summary: summarize(metrics), recommendation, metrics, privacy };
}

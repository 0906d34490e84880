/**
 * The demo: the whole job on built-in data in a few minutes: simulate broadband measurements, train,
 * generate, export, evaluate fidelity and privacy against held-out lines, and say in one line how it went.
 */
import fs from 'node:fs';
import path from 'node:path';
import { demoDataset } from '../data/demo.ts';
import type { Dataset } from '../data/types.ts';
import { writeDataset } from '../export/index.ts';
import { engineKinds, type EngineKind } from '../model/engines.ts';
import { attackVerdict } from '../privacy/review.ts';
import { generateFromRun, runDatasets } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';
import { runEvaluate } from './evaluate.ts';
import { startTraining, type RunHooks } from './training.ts';

/** Mean of one feature over all steps of all series. */
function featureMean(dataset: Dataset, name: string): number {
  const f = dataset.features.findIndex((c) => c.name === name);
  let sum = 0;
  let count = 0;
  for (const s of dataset.series) {
    for (const x of s.features[f] as Float64Array) sum += x;
    count += s.length;
  }
  return sum / Math.max(count, 1);
}

/** Epochs that fit the demo's few-minute budget on the engine that will run. */
async function defaultEpochs(engine: EngineKind): Promise<number> {
  if (engine === 'reference') return 150;
  try {
    (await import('../model/native.ts')).loadNativeAddon();
    return 1000;
  } catch {
    return 150;
  }
}

export interface DemoRequest {
  /** Where the demo writes (its `run/` subfolder is replaced). */
  outDir: string;
  /** Default: what fits a few minutes on the engine that will run. */
  epochs?: number;
  seed?: number;
  engine?: EngineKind;
}

export interface DemoResult {
  outDir: string;
  realFile: string;
  syntheticFile: string;
  reportFile: string;
  iterations: number;
  elapsedSeconds: number;
  engine: string;
  syntheticSeries: number;
  /** Mean download (Mbps) and latency (ms), real and synthetic. */
  means: { download: { real: number; synthetic: number }; latency: { real: number; synthetic: number } };
  /** How often a classifier tells synthetic from real (0.5: indistinguishable); null when not measured. */
  discriminativeAccuracy: number | null;
  copiesOfTraining: number;
  /** The strongest of the review's membership attacks (the highest AUC, whoever could run it): its AUC, interval and verdict. */
  strongestAttack?: { name: string; needs: string; auc: number; low: number; high: number; verdict: string };
}

export async function runDemo(request: DemoRequest, hooks: Pick<RunHooks, 'onLog' | 'onProgress' | 'signal'> = {}): Promise<DemoResult> {
  const outDir = path.resolve(request.outDir);
  const engine = request.engine ?? 'auto';
  if (!engineKinds.includes(engine))
    throw new ApiError('invalid_argument', `the engine must be one of ${engineKinds.join(', ')}, got '${engine}'`, {
      hint: { text: 'auto picks the fastest available', option: 'engine', value: 'auto' },
    });
  const epochs = request.epochs ?? (await defaultEpochs(engine));
  const seed = request.seed ?? 0;
  const runDir = path.join(outDir, 'run');
  // The demo owns its folder: a previous demo run is replaced, nothing else is touched.
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const real = demoDataset({ seed: seed + 1 });
  const realFile = path.join(outDir, 'demo-real.csv');
  await writeDataset(real, realFile);
  hooks.onLog?.(`demo data: ${real.series.length} simulated broadband lines x ${real.series[0].length} hours -> ${realFile}`);
  const summary = await startTraining({ data: { dataset: real, label: 'built-in demo data' }, runDir, sampleLen: 8, epochs, seed, engine }, hooks);
  const { train } = runDatasets(runDir);
  const synthetic = await generateFromRun({ runDir, n: train.series.length, seed: seed + 2 });
  const syntheticFile = path.join(outDir, 'synthetic.csv');
  await writeDataset(synthetic, syntheticFile);
  const { metrics, privacy, reportFile } = await runEvaluate({
    real: { runDir },
    synthetic: syntheticFile,
    options: {},
    outDir,
    seed,
    title: 'Demo: synthetic broadband measurements',
    log: (m) => hooks.onLog?.(m),
  });
  const means = (name: string) => ({ real: featureMean(train, name), synthetic: featureMean(synthetic, name) });
  const strongest = [...privacy.attacks].sort((a, b) => b.auc - a.auc)[0];
  return {
    outDir,
    realFile,
    syntheticFile,
    reportFile,
    iterations: summary.iteration,
    elapsedSeconds: summary.elapsedSeconds,
    engine: summary.engine,
    syntheticSeries: synthetic.series.length,
    means: { download: means('download_mbps'), latency: means('latency_ms') },
    discriminativeAccuracy: metrics.synthetic.discriminative.accuracy,
    copiesOfTraining: privacy.copies.ofTraining,
    ...(strongest ? { strongestAttack: { name: strongest.name, needs: strongest.needs, auc: strongest.auc, low: strongest.aucLow, high: strongest.aucHigh, verdict: attackVerdict(strongest) } } : {}),
  };
}

/**
 * `dg demo`: the whole job on built-in data in a few minutes: simulate broadband measurements, train,
 * generate, export, evaluate fidelity and privacy against held-out lines, and say in one line how it went.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoDataset } from '../data/demo.ts';
import type { Dataset } from '../data/types.ts';
import { writeDataset } from '../export/index.ts';
import { engineKinds, type EngineKind } from '../model/engines.ts';
import { generateFromRun, runDatasets, startTraining } from '../train/run.ts';
import { runEvaluate } from './evaluate.ts';
import { formatSeconds, progressBar } from './progress.ts';

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

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, engine: { type: 'string' } } });
  const outDir = path.resolve(values.out ?? 'dg-demo');
  const engine = (values.engine ?? 'auto') as EngineKind;
  if (!engineKinds.includes(engine)) throw new Error(`--engine must be one of ${engineKinds.join(', ')}, got '${values.engine}'`);
  const epochs = values.epochs ? Number(values.epochs) : await defaultEpochs(engine);
  const seed = values.seed ? Number(values.seed) : 0;
  if (!(Number.isInteger(epochs) && epochs > 0) || !(Number.isInteger(seed) && seed >= 0)) throw new Error('--epochs must be a positive integer and --seed a non-negative integer');
  const runDir = path.join(outDir, 'run');
  // The demo owns its folder: a previous demo run is replaced, nothing else is touched.
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const real = demoDataset({ seed: seed + 1 });
  const realFile = path.join(outDir, 'demo-real.csv');
  await writeDataset(real, realFile);
  process.stderr.write(`demo data: ${real.series.length} simulated broadband lines x ${real.series[0].length} hours -> ${realFile}\n`);
  const bar = progressBar('training');
  const summary = await startTraining(
    { data: { dataset: real, label: 'built-in demo data' }, runDir, sampleLen: 8, epochs, seed, engine },
    { onLog: (m) => bar.log(m), onProgress: (p) => bar.update(p.iteration, p.totalIterations, `D ${p.losses.critic.toFixed(3)} G ${p.losses.generator.toFixed(3)} ETA ${formatSeconds(p.etaSeconds)}`) },
  );
  bar.finish();
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
    log: (m) => process.stderr.write(m + '\n'),
  });
  const metric = (name: string, unit: string) => `${featureMean(train, name).toFixed(0)} real vs ${featureMean(synthetic, name).toFixed(0)} synthetic ${unit}`;
  const accuracy = metrics.synthetic.discriminative.accuracy;
  const attack = privacy.attacks.find((a) => a.name === 'nearest generated series');
  process.stdout.write(
    `demo: trained ${summary.iteration} iterations in ${formatSeconds(summary.elapsedSeconds)} (${summary.engine}); ` +
      `${synthetic.series.length} synthetic series -> ${syntheticFile}; mean download ${metric('download_mbps', 'Mbps')}, latency ${metric('latency_ms', 'ms')}; ` +
      `a classifier tells them from real ${accuracy === null ? 'n/a' : `${(accuracy * 100).toFixed(0)}%`} of the time (50% = indistinguishable); ` +
      `${privacy.copies.ofTraining} copies of training lines${attack ? `, membership attack AUC ${attack.auc.toFixed(2)} (0.5 = guessing)` : ''}; report: ${reportFile}\n`,
  );
  return 0;
}

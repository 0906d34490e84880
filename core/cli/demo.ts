/**
 * `dg demo`: the whole job on built-in data in a few minutes: simulate broadband measurements, train,
 * generate, export, and say in one line how close the synthetic data is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoDataset } from '../data/demo.ts';
import type { Dataset } from '../data/types.ts';
import { writeDataset } from '../export/index.ts';
import { generateFromRun, startTraining } from '../train/run.ts';
import { formatSeconds, progressBar } from './progress.ts';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** Mean of one feature over all steps of all series. */
function featureMean(dataset: Dataset, name: string): number {
  const f = dataset.features.findIndex((c) => c.name === name);
  return mean(dataset.series.flatMap((s) => s.features.map((step) => step[f] as number)));
}

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, engine: { type: 'string' } } });
  const outDir = path.resolve(values.out ?? 'dg-demo');
  const epochs = values.epochs ? Number(values.epochs) : 150;
  const seed = values.seed ? Number(values.seed) : 0;
  const runDir = path.join(outDir, 'run');
  // The demo owns its folder: a previous demo run is replaced, nothing else is touched.
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const real = demoDataset({ seed: seed + 1 });
  const realFile = path.join(outDir, 'demo-real.csv');
  await writeDataset(real, realFile);
  process.stderr.write(`demo data: ${real.series.length} simulated broadband lines x ${real.series[0].features.length} hours -> ${realFile}\n`);
  const bar = progressBar('training');
  const summary = await startTraining(
    { data: { dataset: real, label: 'built-in demo data' }, runDir, sampleLen: 8, epochs, seed, engine: (values.engine as 'auto') ?? 'auto' },
    { onLog: (m) => bar.log(m), onProgress: (p) => bar.update(p.iteration, p.totalIterations, `D ${p.losses.critic.toFixed(3)} G ${p.losses.generator.toFixed(3)} ETA ${formatSeconds(p.etaSeconds)}`) },
  );
  bar.finish();
  const synthetic = await generateFromRun({ runDir, n: real.series.length, seed: seed + 2 });
  const syntheticFile = path.join(outDir, 'synthetic.csv');
  await writeDataset(synthetic, syntheticFile);
  const metric = (name: string, unit: string) => `${name} ${featureMean(real, name).toFixed(1)} real vs ${featureMean(synthetic, name).toFixed(1)} synthetic ${unit}`;
  process.stdout.write(
    `demo: trained ${summary.iteration} iterations in ${formatSeconds(summary.elapsedSeconds)} (${summary.engine}); ` +
      `${synthetic.series.length} synthetic series -> ${syntheticFile}; mean ${metric('download_mbps', 'Mbps')}, ${metric('latency_ms', 'ms')}\n`,
  );
  return 0;
}

/**
 * Probe (issue 14/17 investigation, not a product path): would an exponential moving average of the
 * generator's weights give better synthetic data at the privacy guard's early stopping point?
 *   node --import tsx bench/ema-probe.ts TRAIN.csv OUT_DIR ITERATIONS SEED DECAYS [ID TIME ATTRS FEATURES]
 * Trains with the defaults but a fixed length (guard off, a checkpoint every 10 iterations), keeps an EMA
 * of every gen.* tensor but Adam's moments (updated at each checkpoint: decay per 10 iterations; DECAYS is a
 * comma list), then writes OUT_DIR/ema-DECAY: a copy of the run whose checkpoint carries the EMA generator. Generate and evaluate both run folders alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTraining } from '../core/api/training.ts';
import { readCheckpoint, writeCheckpoint } from '../core/train/checkpoint.ts';
import { engineStateOf, isAveraged } from '../core/train/generator-average.ts';
import { RUN_FILES } from '../core/train/run-folder.ts';

const [file, out, iterations, seed, decays, id = 'series_id', time = 'step', attrs = 'isp,technology,state', feats = 'traffic_byte_counter,ping_loss_rate'] = process.argv.slice(2);
const raw = path.join(out, 'raw');

const emas = decays.split(',').map((d) => ({ decay: Number(d), label: d, tensors: new Map<string, Float32Array>() }));
await startTraining(
  {
    data: { file, options: { idColumn: id, timeColumn: time, attributes: attrs.split(','), features: feats.split(',') } },
    runDir: raw,
    iterations: Number(iterations),
    seed: Number(seed),
    privacyGuard: false,
    checkpointEvery: 10,
  },
  {
    onLog: (line) => console.log(line),
    afterCheckpoint: (iteration) => {
      const state = readCheckpoint(path.join(raw, RUN_FILES.checkpoint)).engineState;
      for (const { decay, tensors } of emas)
        for (const t of state.tensors) {
          if (!isAveraged(t.name)) continue;
          const avg = tensors.get(t.name);
          if (!avg) tensors.set(t.name, Float32Array.from(t.data));
          else for (let i = 0; i < avg.length; i++) avg[i] = decay * avg[i] + (1 - decay) * t.data[i];
        }
      if (iteration % 500 === 0) console.log(`ema at ${iteration}`);
    },
  },
);
for (const { label, tensors: ema } of emas) {
  const emaDir = path.join(out, `ema-${label}`);
  fs.rmSync(emaDir, { recursive: true, force: true });
  fs.cpSync(raw, emaDir, { recursive: true });
  const checkpoint = readCheckpoint(path.join(emaDir, RUN_FILES.checkpoint));
  // the run's own average (avg.*) is dropped, so generation reads this probe's average in gen.*
  const tensors = engineStateOf(checkpoint.engineState).tensors.map((t) => (ema.has(t.name) ? { ...t, data: ema.get(t.name)! } : t));
  writeCheckpoint(path.join(emaDir, RUN_FILES.checkpoint), { ...checkpoint, engineState: { ...checkpoint.engineState, tensors } });
}

/**
 * `npm run bench [-- --json] [-- --engines reference,native,cuda] [-- --configs wwt,short] [-- --batches 100,1024]
 *   [-- --generate N]`
 *
 * ms per iteration (1 critic step + 1 generator step), peak RSS and generation speed, per engine and
 * config. Each measurement runs in its own child process so peak memory belongs to that measurement
 * alone. Generation makes 50,000 series by default (the native core's target is stated for 50,000
 * WWT-shaped series), 1,000 on the reference engine, which needs over a minute for 50,000.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EncodedLayout } from '../core/encoding/types.ts';
import { modelConfig } from '../core/model/config.ts';
import { createEngine, type EngineKind } from '../core/model/engines.ts';
import type { RealBatch } from '../core/model/engine.ts';
import { dims } from '../core/model/params.ts';
import { Rng } from '../core/util/rng.ts';

export const benchConfigs = {
  /** The paper's WWT shape: T=550, S=10, 1 continuous feature, attributes of 9/3/2 values. */
  wwt: { T: 550, S: 10 },
  short: { T: 50, S: 5 },
} as const;
type ConfigName = keyof typeof benchConfigs;

/** gretel DGAN (PyTorch, OPENBLAS_NUM_THREADS=1) on this 2-core machine kind, from shared/design/architecture.md. */
const pytorchCpuMs: Partial<Record<ConfigName, Record<number, number>>> = { wwt: { 100: 210 }, short: { 100: 75 } };

export function benchLayout(T: number): EncodedLayout {
  return {
    maxLength: T,
    attributes: [
      { name: 'domain', kind: 'categorical', dim: 9, activation: 'softmax' },
      { name: 'access', kind: 'categorical', dim: 3, activation: 'softmax' },
      { name: 'agent', kind: 'categorical', dim: 2, activation: 'softmax' },
    ],
    additionalAttributes: [
      { name: 'views__mid', kind: 'continuous', dim: 1, activation: 'sigmoid' },
      { name: 'views__half', kind: 'continuous', dim: 1, activation: 'sigmoid' },
    ],
    features: [
      { name: 'views', kind: 'continuous', dim: 1, activation: 'sigmoid' },
      { name: '__gen_flag', kind: 'categorical', dim: 2, activation: 'softmax' },
    ],
    genFlags: true,
  };
}

function randomBatch(rng: Rng, size: number, d: ReturnType<typeof dims>): RealBatch {
  const oneHot = (widths: number[]) => {
    const out = new Float32Array(size * widths.reduce((a, b) => a + b, 0));
    let o = 0;
    for (let b = 0; b < size; b++)
      for (const w of widths) {
        out[o + rng.int(w)] = 1;
        o += w;
      }
    return out;
  };
  const features = new Float32Array(size * d.T * d.feature);
  for (let b = 0; b < size; b++) {
    for (let t = 0; t < d.T; t++) {
      const o = (b * d.T + t) * d.feature;
      features[o] = rng.uniform();
      features[o + 1 + (t === d.T - 1 ? 1 : 0)] = 1;
    }
  }
  return { size, attributes: oneHot([9, 3, 2]), additionalAttributes: rng.fillUniform(new Float32Array(size * 2)), features };
}

async function measureOne(engineKind: EngineKind, configName: ConfigName, batch: number, iterations: number, generated: number) {
  const { T, S } = benchConfigs[configName];
  const config = modelConfig(benchLayout(T), { sampleLen: S });
  const { engine } = await createEngine(engineKind, { config, seed: 1 });
  const rng = new Rng(2);
  const batches = Array.from({ length: 4 }, () => randomBatch(rng, batch, dims(config)));
  await engine.trainStep([batches[0]]); // warm-up: compilation, allocation
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await engine.trainStep([batches[i % batches.length]]);
  const ms = (performance.now() - start) / iterations;
  // peak so far = training's peak; generating the series afterwards needs its own output memory
  const trainRssMb = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
  const genStart = performance.now();
  await engine.generate(generated);
  const seriesPerSecond = generated / ((performance.now() - genStart) / 1000);
  engine.dispose();
  return {
    engine: engine.name,
    config: configName,
    batch,
    ms_per_iter: +ms.toFixed(2),
    generate_series_per_s: Math.round(seriesPerSecond),
    peak_rss_train_mb: trainRssMb,
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    iterations,
    generated,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      one: { type: 'string' },
      engines: { type: 'string', default: 'reference,native' },
      configs: { type: 'string', default: 'wwt,short' },
      batches: { type: 'string', default: '100' },
      iterations: { type: 'string' },
      generate: { type: 'string' },
    },
  });
  if (values.one) {
    const [engine, config, batch, iterations, generated] = values.one.split(':');
    process.stdout.write(JSON.stringify(await measureOne(engine as EngineKind, config as ConfigName, Number(batch), Number(iterations), Number(generated))) + '\n');
    return;
  }
  const self = fileURLToPath(import.meta.url);
  // The first engine measured (the reference by default) is the in-script baseline for the ratios.
  const baseline = new Map<string, number>();
  for (const engine of values.engines.split(',')) {
    for (const config of values.configs.split(',') as ConfigName[]) {
      for (const batch of values.batches.split(',').map(Number)) {
        // The reference engine is slow: fewer iterations keep the whole bench to minutes.
        const iterations = Number(values.iterations ?? (engine === 'reference' ? (config === 'wwt' ? 3 : 10) : 20));
        const generated = Number(values.generate ?? (engine === 'reference' ? 1000 : 50000));
        const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--one', `${engine}:${config}:${batch}:${iterations}:${generated}`], { encoding: 'utf8' });
        if (child.status !== 0) {
          const reason =
            (child.stderr
              .trim()
              .split('\n')
              .find((l) => l.includes('Error')) ??
              child.stderr.trim().split('\n').at(-1)) ||
            'failed';
          if (values.json) process.stdout.write(JSON.stringify({ engine, config, batch, error: reason }) + '\n');
          else process.stdout.write(`${engine.padEnd(10)} ${config.padEnd(6)} batch ${String(batch).padStart(5)}  unavailable: ${reason}\n`);
          continue;
        }
        const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
        const key = `${config}:${batch}`;
        if (!baseline.has(key)) baseline.set(key, result.ms_per_iter);
        const speedup = baseline.get(key)! / result.ms_per_iter;
        const pytorch = pytorchCpuMs[config]?.[batch];
        if (values.json) {
          process.stdout.write(
            JSON.stringify({ ...result, speedup_vs_first_engine: +speedup.toFixed(2), ...(pytorch ? { speedup_vs_pytorch_cpu: +(pytorch / result.ms_per_iter).toFixed(2) } : {}) }) + '\n',
          );
        } else {
          const vsPytorch = pytorch ? `  ${(pytorch / result.ms_per_iter).toFixed(2)}x PyTorch CPU (${pytorch} ms)` : '';
          process.stdout.write(
            `${result.engine.padEnd(32)} ${config.padEnd(6)} batch ${String(batch).padStart(5)}  ${String(result.ms_per_iter).padStart(9)} ms/iter  peak RSS ${String(result.peak_rss_train_mb).padStart(6)} MB training, ${String(result.peak_rss_mb).padStart(6)} MB with generation  generate ${String(result.generate_series_per_s).padStart(6)} series/s (${result.generated})  ${speedup.toFixed(2)}x first engine${vsPytorch}\n`,
          );
        }
      }
    }
  }
}

await main();

/**
 * The native engine: the C core in core/native (AVX2/FMA GEMMs, threads) behind the Engine interface.
 * Work runs off the JavaScript thread; calls are queued so one operation runs at a time. Tensor names,
 * order and initialization are params.ts's, so state moves to and from the reference engine unchanged.
 *
 * The addon is built by `node-gyp rebuild -C core/native` (the package's install step).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from './config.ts';
import type { DpOptions, Engine, EngineOptions, EngineState, GeneratedBatch, GenerateOptions, NamedTensor, RealBatch, StepLosses } from './engine.ts';
import { bufferSpecs, parameterSpecs } from './params.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const nativeAddonPath = path.resolve(here, '../native/build/Release/dg_native.node');

type Handle = { readonly __nativeModel: unique symbol };

interface NativeAddon {
  create(config: object, seed: number): Handle;
  destroy(handle: Handle): void;
  trainStep(handle: Handle, batches: RealBatch[]): Promise<StepLosses>;
  generate(handle: Handle, n: number, givenAttributes?: Float32Array, givenAdditional?: Float32Array): Promise<Omit<GeneratedBatch, 'size'>>;
  criticScores(handle: Handle, batch: RealBatch): Promise<Float32Array>;
  dumpIteration(handle: Handle, batches: RealBatch[], file: string): Promise<void>;
  getState(handle: Handle): EngineState;
  setState(handle: Handle, tensors: NamedTensor[], counters: Record<string, number>): void;
  info(): { kernel: string };
  threads(handle: Handle): number;
}

let addon: NativeAddon | null = null;

/** Loads the compiled addon, or says how to build it. */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (!fs.existsSync(nativeAddonPath)) {
    throw new Error(`the native core is not built (${nativeAddonPath} is missing): run \`npx node-gyp rebuild -C core/native\``);
  }
  addon = createRequire(import.meta.url)(nativeAddonPath) as NativeAddon;
  return addon;
}

/** The plain object the binding reads: the layout's variables and ModelConfig's numbers. */
function nativeConfig(config: ModelConfig, threads: number | undefined, dp: DpOptions | undefined): object {
  const { layout, ...rest } = config;
  const vars = (v: ModelConfig['layout']['attributes']) => v.map(({ dim, activation }) => ({ dim, activation }));
  return {
    ...rest,
    maxLength: layout.maxLength,
    genFlags: layout.genFlags,
    attributes: vars(layout.attributes),
    additionalAttributes: vars(layout.additionalAttributes),
    features: vars(layout.features),
    threads: threads ?? 0,
    ...(dp ? { dpClipNorm: dp.clipNorm, dpNoiseMultiplier: dp.noiseMultiplier } : {}),
  };
}

function checkDpOptions(dp: DpOptions | undefined): void {
  if (!dp) return;
  if (!(dp.clipNorm > 0)) throw new Error(`dp.clipNorm must be positive (Infinity turns DP off), got ${dp.clipNorm}`);
  if (!(Number.isFinite(dp.noiseMultiplier) && dp.noiseMultiplier >= 0)) {
    throw new Error(`dp.noiseMultiplier must be a finite number >= 0, got ${dp.noiseMultiplier}`);
  }
  if (dp.noiseMultiplier > 0 && !Number.isFinite(dp.clipNorm)) throw new Error('DP noise needs a finite dp.clipNorm');
}

/** Fails loudly if the C core's tensor table ever drifts from params.ts. */
function checkLayout(config: ModelConfig, state: EngineState): void {
  const params = parameterSpecs(config);
  const expected = [
    ...params.map((s) => ({ name: s.name, shape: s.shape })),
    ...bufferSpecs(config).map((s) => ({ name: s.name, shape: s.shape })),
    ...params.flatMap((s) => [
      { name: `${s.name}.adam.m`, shape: s.shape },
      { name: `${s.name}.adam.v`, shape: s.shape },
    ]),
  ];
  const got = state.tensors;
  const same = got.length === expected.length && expected.every((e, i) => got[i].name === e.name && got[i].shape.join() === e.shape.join());
  if (!same) throw new Error('the native core was built from a different parameter layout than params.ts: rebuild it');
}

export interface NativeEngine extends Engine {
  /** One iteration; with DP on, the result's `dp` field has the clipping statistics. */
  trainStep(realBatches: RealBatch[]): Promise<StepLosses>;
  /** Worker threads the core uses. */
  readonly threads: number;
  /** Runs one iteration and writes it as a tensor dump (core/native/README.md) for cross-engine checks. */
  dumpIteration(realBatches: RealBatch[], file: string): Promise<void>;
}

export async function createNativeEngine(options: EngineOptions & { threads?: number }): Promise<NativeEngine> {
  const native = loadNativeAddon();
  const { config, seed } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer in [0, 2^32), got ${seed}`);
  checkDpOptions(options.dp);
  let handle: Handle | null = native.create(nativeConfig(config, options.threads, options.dp), seed);
  checkLayout(config, native.getState(handle));
  const threads = native.threads(handle);

  // One operation at a time: each call waits for the previous one, whatever its outcome.
  let queue: Promise<unknown> = Promise.resolve();
  function run<T>(work: (h: Handle) => Promise<T> | T): Promise<T> {
    const next = queue.then(() => {
      if (!handle) throw new Error('this engine has been disposed');
      return work(handle);
    });
    queue = next.catch(() => undefined);
    return next;
  }

  function checkBatches(realBatches: RealBatch[]): void {
    if (realBatches.length !== config.criticSteps) {
      throw new Error(`trainStep needs ${config.criticSteps} real batch(es), one per critic step; got ${realBatches.length}`);
    }
  }

  return {
    name: `native-cpu (${native.info().kernel}, ${threads} thread${threads === 1 ? '' : 's'})`,
    config,
    threads,

    trainStep(realBatches: RealBatch[]): Promise<StepLosses> {
      return run((h) => {
        checkBatches(realBatches);
        return native.trainStep(h, realBatches);
      });
    },

    generate(n: number, generateOptions: GenerateOptions = {}): Promise<GeneratedBatch> {
      return run(async (h) => {
        if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer, got ${n}`);
        const out = await native.generate(h, n, generateOptions.givenAttributes, generateOptions.givenAdditionalAttributes);
        return { size: n, ...out };
      });
    },

    criticScores(batch: RealBatch): Promise<Float32Array> {
      return run((h) => native.criticScores(h, batch));
    },

    getState(): Promise<EngineState> {
      return run((h) => native.getState(h));
    },

    setState(state: EngineState): Promise<void> {
      return run((h) => {
        const shapes = new Map(native.getState(h).tensors.map((t) => [t.name, t.shape.join()]));
        for (const t of state.tensors) {
          const want = shapes.get(t.name);
          if (want !== undefined && want !== t.shape.join()) throw new Error(`state tensor ${t.name} has shape [${t.shape}], expected [${want}]`);
        }
        native.setState(h, state.tensors, state.counters);
      });
    },

    dumpIteration(realBatches: RealBatch[], file: string): Promise<void> {
      return run((h) => {
        checkBatches(realBatches);
        return native.dumpIteration(h, realBatches, file);
      });
    },

    dispose(): void {
      if (!handle) return;
      native.destroy(handle);
      handle = null;
    },
  };
}

/**
 * The native engine: the C core in core/native (AVX2/FMA GEMMs, threads) behind the Engine interface,
 * on the CPU or, through the CUDA plugin, on one NVIDIA GPU. Work runs off the JavaScript thread;
 * calls are queued so one operation runs at a time. Tensor names, order and initialization are
 * params.ts's, so state moves between the reference, CPU and CUDA engines unchanged.
 *
 * The addon is built by `node-gyp rebuild -C core/native` (the package's install step). The CUDA
 * plugin (core/native/out/libdg_cuda.so) is built by the same step only where nvcc exists
 * (`make -C core/native cuda-lib`) and loaded at run time: the addon itself never needs CUDA.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { ModelConfig } from './config.ts';
import type { DpOptions, Engine, EngineOptions, EngineState, GeneratedBatch, GenerateOptions, NamedTensor, RealBatch, StepLosses } from './engine.ts';
import { bufferSpecs, parameterSpecs } from './params.ts';
import { fromRoot } from '../util/root.ts';

export const nativeAddonPath = fromRoot('core/native/build/Release/dg_native.node');
export const defaultCudaLibraryPath = fromRoot('core/native/out/libdg_cuda.so');

type Handle = { readonly __nativeModel: unique symbol };

interface NativeAddon {
  create(config: object, seed: number, cudaLibrary?: string): Handle;
  destroy(handle: Handle): void;
  /** Each batch's `rows` (training-set row ids) reach the core as dg_batch.ids. */
  trainStep(handle: Handle, batches: RealBatch[]): Promise<StepLosses>;
  holdTrainingData(handle: Handle, all: RealBatch): void;
  /** The row numbers are also the series' training-set row ids. */
  trainStepRows(handle: Handle, rows: Int32Array[]): Promise<StepLosses>;
  generate(handle: Handle, n: number, givenAttributes?: Float32Array, givenAdditional?: Float32Array): Promise<Omit<GeneratedBatch, 'size'>>;
  criticScores(handle: Handle, batch: RealBatch): Promise<Float32Array>;
  dumpIteration(handle: Handle, batches: RealBatch[], file: string): Promise<void>;
  getState(handle: Handle): EngineState;
  setState(handle: Handle, tensors: NamedTensor[], counters: Record<string, number>): void;
  info(): { kernel: string };
  threads(handle: Handle): number;
  cudaStatus(cudaLibrary: string): { available: boolean; reason?: string; device?: string };
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

/** Where the CUDA plugin is: $DG_CUDA_LIBRARY when set, else core/native/out/libdg_cuda.so. */
export function cudaLibraryPath(): string {
  return process.env.DG_CUDA_LIBRARY || defaultCudaLibraryPath;
}

export interface CudaStatus {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  /** e.g. "NVIDIA H100 80GB HBM3, sm_90, 79 GiB", when available. */
  device?: string;
  library: string;
}

/** Whether the CUDA engine can run here (plugin built and loadable, driver, a device it has code for), and if not, why. Never throws. */
export function cudaStatus(library: string = cudaLibraryPath()): CudaStatus {
  try {
    const native = loadNativeAddon();
    if (!fs.existsSync(library)) {
      return { available: false, library, reason: `no CUDA plugin at ${library} (the install step builds it where nvcc exists; or run make -C core/native cuda-lib)` };
    }
    return { ...native.cudaStatus(library), library };
  } catch (error) {
    return { available: false, library, reason: error instanceof Error ? error.message : String(error) };
  }
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
    ...(dp ? { dpClipNorm: dp.clipNorm, dpNoiseMultiplier: dp.noiseMultiplier, dpExpectedBatch: dp.expectedBatch ?? 0 } : {}),
  };
}

function checkDpOptions(dp: DpOptions | undefined): void {
  if (!dp) return;
  if (!(dp.clipNorm > 0)) throw new Error(`dp.clipNorm must be positive (Infinity turns DP off), got ${dp.clipNorm}`);
  if (!(Number.isFinite(dp.noiseMultiplier) && dp.noiseMultiplier >= 0)) {
    throw new Error(`dp.noiseMultiplier must be a finite number >= 0, got ${dp.noiseMultiplier}`);
  }
  if (dp.noiseMultiplier > 0 && !Number.isFinite(dp.clipNorm)) throw new Error('DP noise needs a finite dp.clipNorm');
  if (dp.expectedBatch !== undefined && !(Number.isInteger(dp.expectedBatch) && dp.expectedBatch >= 1 && Number.isFinite(dp.clipNorm))) {
    throw new Error(`dp.expectedBatch must be a positive integer, with a finite dp.clipNorm; got ${dp.expectedBatch}`);
  }
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
  /** Worker threads the core uses (on CUDA: the host's, for critic scores). */
  readonly threads: number;
  /** Where it trains. */
  readonly device: 'cpu' | 'cuda';
  /** Runs one iteration and writes it as a tensor dump (core/native/README.md) for cross-engine checks (CPU only). */
  dumpIteration(realBatches: RealBatch[], file: string): Promise<void>;
}

export interface NativeEngineOptions extends EngineOptions {
  /** CPU worker threads (default: every online CPU; on CUDA only critic scores use the CPU, on one thread). */
  threads?: number;
  /** Where to train: the CPU core (default) or one GPU through the CUDA plugin. */
  device?: 'cpu' | 'cuda';
  /** The CUDA plugin (default cudaLibraryPath()). */
  cudaLibrary?: string;
}

export async function createNativeEngine(options: NativeEngineOptions): Promise<NativeEngine> {
  const native = loadNativeAddon();
  const { config, seed } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer in [0, 2^32), got ${seed}`);
  checkDpOptions(options.dp);
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`device must be 'cpu' or 'cuda', got ${String(device)}`);
  let cudaDevice = '';
  let cudaLibrary: string | undefined;
  if (device === 'cuda') {
    const status = cudaStatus(options.cudaLibrary ?? cudaLibraryPath());
    if (!status.available) throw new Error(`CUDA is not available: ${status.reason}`);
    cudaDevice = status.device ?? 'GPU';
    cudaLibrary = status.library;
  }
  let handle: Handle | null;
  try {
    handle = native.create(nativeConfig(config, options.threads, options.dp), seed, cudaLibrary);
  } catch (error) {
    if (device === 'cuda' && error instanceof Error) error.message = `the CUDA engine could not start on ${cudaDevice}: ${error.message}`;
    throw error;
  }
  try {
    checkLayout(config, native.getState(handle));
  } catch (error) {
    native.destroy(handle);
    throw error;
  }
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

  function checkBatches(realBatches: { length: number }): void {
    if (realBatches.length !== config.criticSteps) {
      throw new Error(`trainStep needs ${config.criticSteps} real batch(es), one per critic step; got ${realBatches.length}`);
    }
  }

  // Only the CUDA engine holds the training set (on the GPU): the CPU core reads batches in place.
  const heldTrainingSet: Pick<Engine, 'holdTrainingData' | 'trainStepOnRows'> =
    device === 'cuda'
      ? {
          holdTrainingData: (all: RealBatch) => run((h) => native.holdTrainingData(h, all)),
          trainStepOnRows: (rows: Int32Array[]) =>
            run((h) => {
              checkBatches(rows);
              return native.trainStepRows(h, rows);
            }),
        }
      : {};

  return {
    name: device === 'cuda' ? `native-cuda (${cudaDevice})` : `native-cpu (${native.info().kernel}, ${threads} thread${threads === 1 ? '' : 's'})`,
    config,
    threads,
    device,

    trainStep(realBatches: RealBatch[]): Promise<StepLosses> {
      return run((h) => {
        checkBatches(realBatches);
        // DP-SGD on Poisson batches pairs each series with its fake partner by training-set row
        // (core/native/README.md, DP-SGD); the core refuses batches without them too.
        if (options.dp?.expectedBatch !== undefined && realBatches.some((b) => !b.rows)) {
          throw new Error('DP-SGD on Poisson-sampled batches (dp.expectedBatch) needs every batch to carry its training-set rows (batch.rows)');
        }
        return native.trainStep(h, realBatches);
      });
    },
    ...heldTrainingSet,

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

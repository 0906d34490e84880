/**
 * Picks and creates an engine. `auto` prefers the native core on CUDA, then the native core on the
 * CPU, then the TF.js reference engine, and its note says which it picked and why it skipped the
 * faster ones. `cuda`, `native` (CPU) and `reference` ask for one engine and fail if it cannot run.
 */
import fs from 'node:fs';
import type { Engine, EngineOptions } from './engine.ts';

export type EngineKind = 'auto' | 'cuda' | 'native' | 'reference';
export const engineKinds: EngineKind[] = ['auto', 'cuda', 'native', 'reference'];

const firstLine = (error: Error) => error.message.split('\n')[0];

async function tryNative(options: EngineOptions, device: 'cpu' | 'cuda'): Promise<Engine | Error> {
  try {
    const native = await import('./native.ts');
    return await native.createNativeEngine({ ...options, device });
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Why auto should not try CUDA (short), or null when it should. */
async function cudaSkipReason(): Promise<string | null> {
  try {
    const native = await import('./native.ts');
    native.loadNativeAddon();
    const library = native.cudaLibraryPath();
    // the install step builds the plugin only where nvcc exists
    if (!fs.existsSync(library)) return library === native.defaultCudaLibraryPath ? 'plugin not built' : `no plugin at ${library}`;
    const status = native.cudaStatus(library);
    return status.available ? null : (status.reason ?? 'unknown reason');
  } catch {
    return 'needs the native addon';
  }
}

async function referenceEngine(options: EngineOptions): Promise<Engine> {
  const { createReferenceEngine } = await import('./reference.ts');
  return createReferenceEngine(options);
}

/** An engine's name as a person reads it: "native-cpu (avx512, 2 threads)" -> "native CPU (AVX-512, 2 threads)". */
export function engineLabel(name: string): string {
  return name
    .replace(/^native-cpu\b/, 'native CPU')
    .replace(/^native-cuda\b/, 'native CUDA')
    .replace(/^tfjs-(\w+)$/, 'reference (TF.js, $1 backend)')
    .replace(/\bavx512\b/, 'AVX-512')
    .replace(/\bavx2-fma\b/, 'AVX2')
    .replace(/\bportable\b/, 'portable C');
}

/** Why auto runs on the CPU, in a few calm words (the detail only where it helps). */
function whyNotGpu(skip: string): string {
  if (/no NVIDIA driver|no CUDA-capable device|no usable (CUDA )?device|CUDA driver version is insufficient/i.test(skip)) return 'no NVIDIA GPU here';
  if (skip === 'plugin not built') return 'the CUDA plugin is not built (no CUDA compiler at install)';
  if (skip === 'needs the native addon') return 'no native addon';
  return `CUDA is not usable here (${skip})`;
}

/**
 * `note`, for auto only: one sentence saying which engine runs and why, e.g. "engine: native CPU
 * (AVX-512, 2 threads); no NVIDIA GPU here". Printed on every run, so nothing in it should read like an error.
 */
export async function createEngine(kind: EngineKind, options: EngineOptions): Promise<{ engine: Engine; note?: string }> {
  if (kind === 'reference') return { engine: await referenceEngine(options) };
  if (kind === 'cuda') {
    const engine = await tryNative(options, 'cuda');
    if (engine instanceof Error) throw engine; // its message already says why CUDA cannot run
    return { engine };
  }
  if (kind === 'native') {
    const engine = await tryNative(options, 'cpu');
    if (engine instanceof Error) throw new Error(`the native engine is not available: ${engine.message}`);
    return { engine };
  }
  if (kind !== 'auto') throw new Error(`unknown engine '${String(kind)}' (one of ${engineKinds.join(', ')})`);
  let gpu: string;
  const cudaSkip = await cudaSkipReason();
  if (cudaSkip === null) {
    const cuda = await tryNative(options, 'cuda');
    if (!(cuda instanceof Error)) return { engine: cuda, note: `engine: ${engineLabel(cuda.name)}, the GPU` };
    gpu = `the GPU could not be used (${firstLine(cuda)})`;
  } else {
    gpu = whyNotGpu(cudaSkip);
  }
  const cpu = await tryNative(options, 'cpu');
  if (!(cpu instanceof Error)) return { engine: cpu, note: `engine: ${engineLabel(cpu.name)}; ${gpu}` };
  const engine = await referenceEngine(options);
  return { engine, note: `engine: ${engineLabel(engine.name)}, slower than the native engine, which is not built here (${firstLine(cpu)})` };
}

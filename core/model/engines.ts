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

/** Why auto should not try CUDA (short: it is printed on every run without a GPU), or null when it should. */
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
  const skipped: string[] = [];
  const cudaSkip = await cudaSkipReason();
  if (cudaSkip === null) {
    const cuda = await tryNative(options, 'cuda');
    if (!(cuda instanceof Error)) return { engine: cuda, note: 'auto: using CUDA' };
    skipped.push(`CUDA failed (${firstLine(cuda)})`);
  } else {
    skipped.push(`CUDA unavailable (${cudaSkip})`);
  }
  const cpu = await tryNative(options, 'cpu');
  if (!(cpu instanceof Error)) return { engine: cpu, note: `auto: ${skipped.join('; ')}; using native CPU` };
  skipped.push(`native CPU unavailable (${firstLine(cpu)})`);
  return { engine: await referenceEngine(options), note: `auto: ${skipped.join('; ')}; using the reference engine` };
}

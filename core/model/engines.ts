/**
 * Picks and creates an engine. `auto` prefers the native core (CUDA, then CPU) and falls back to the
 * TF.js reference engine, saying which it picked.
 */
import type { Engine, EngineOptions } from './engine.ts';

export type EngineKind = 'auto' | 'native' | 'reference';
export const engineKinds: EngineKind[] = ['auto', 'native', 'reference'];

async function tryNative(options: EngineOptions): Promise<Engine | Error> {
  try {
    const native = await import('./native.ts');
    return await native.createNativeEngine(options);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

export async function createEngine(kind: EngineKind, options: EngineOptions): Promise<{ engine: Engine; note?: string }> {
  if (kind === 'native' || kind === 'auto') {
    const native = await tryNative(options);
    if (!(native instanceof Error)) return { engine: native };
    if (kind === 'native') throw new Error(`the native engine is not available: ${native.message}`);
    const { createReferenceEngine } = await import('./reference.ts');
    return { engine: await createReferenceEngine(options), note: `native engine unavailable (${native.message.split('\n')[0]}); using the reference engine` };
  }
  const { createReferenceEngine } = await import('./reference.ts');
  return { engine: await createReferenceEngine(options) };
}

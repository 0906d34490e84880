/**
 * The preload (sandboxed, context-isolated): exposes `window.dg` (electron/bridge.ts) and nothing else;
 * the raw ipcRenderer never reaches the page. Bundled to electron/dist/preload.cjs by electron/build.ts,
 * since a sandboxed preload cannot import local modules.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEvent, CallOutcome } from '../core/api/transport.ts';
import { CHANNELS, METHODS_ARG, type DgBridge, type FileFilter } from './bridge.ts';

function readMethods(): string[] {
  const arg = process.argv.find((a) => a.startsWith(METHODS_ARG));
  if (!arg) return [];
  try {
    const list: unknown = JSON.parse(arg.slice(METHODS_ARG.length));
    return Array.isArray(list) ? list.filter((m): m is string => typeof m === 'string') : [];
  } catch {
    return [];
  }
}

const methods = Object.freeze(readMethods());
const known = new Set(methods);

const bridge: DgBridge = {
  methods,
  call(method: string, args?: unknown): Promise<CallOutcome> {
    if (typeof method !== 'string' || !known.has(method)) {
      return Promise.resolve({ ok: false, error: { code: 'invalid_argument', message: `No such method: ${String(method)}` } });
    }
    return ipcRenderer.invoke(CHANNELS.call, method, args) as Promise<CallOutcome>;
  },
  pickFile(filters?: FileFilter[]): Promise<string | null> {
    return ipcRenderer.invoke(CHANNELS.pickFile, filters) as Promise<string | null>;
  },
  pickSave(defaultName?: string): Promise<string | null> {
    return ipcRenderer.invoke(CHANNELS.pickSave, defaultName) as Promise<string | null>;
  },
  onEvent(listener: (event: ApiEvent) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('onEvent takes a function');
    const wrapped = (_e: IpcRendererEvent, event: ApiEvent) => listener(event);
    ipcRenderer.on(CHANNELS.event, wrapped);
    return () => {
      ipcRenderer.removeListener(CHANNELS.event, wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('dg', bridge);

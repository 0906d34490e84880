/**
 * What the preload exposes to the renderer as `window.dg` (types only; the renderer's client uses it in
 * the Electron window, and the server's HTTP + WebSocket transport in browser mode).
 */
import type { ApiEvent, CallOutcome } from '../core/api/transport.ts';

export interface FileFilter {
  name: string;
  extensions: string[];
}

export interface DgBridge {
  /** The contract's method names; `call` refuses any other. */
  readonly methods: readonly string[];
  call(method: string, args?: unknown): Promise<CallOutcome>;
  /** A native open dialog; the picked file may then be read by calls. Null when cancelled. */
  pickFile(filters?: FileFilter[]): Promise<string | null>;
  /** A native save dialog; the picked path may then be written by calls. Null when cancelled. */
  pickSave(defaultName?: string): Promise<string | null>;
  /** Every event from the service; returns the unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
}

/** IPC channel names (one namespace, invoke-style). */
export const CHANNELS = {
  call: 'dg:call',
  pickFile: 'dg:pick-file',
  pickSave: 'dg:pick-save',
  event: 'dg:event',
} as const;

/** The argument through which main hands the method list to the preload (webPreferences.additionalArguments). */
export const METHODS_ARG = '--dg-methods=';

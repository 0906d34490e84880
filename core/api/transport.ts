/**
 * What a transport (Electron IPC, browser mode's HTTP + WebSocket) needs from the API: one call entry
 * point that validates its arguments against the contract, and one stream of events. Transports decide
 * nothing else: they authenticate the caller, confine file arguments, and carry bytes.
 */
import type { ApiErrorData } from './errors.ts';

/** File arguments a call reads or writes, by their place in the (already validated) arguments. */
export interface CallContext {
  /**
   * Called for every file path argument before the call runs; throws an ApiError (`forbidden`) when the
   * transport did not let the user pick or upload it. In-process callers (the CLI) pass none.
   */
  authorizePath?: (path: string, access: 'read' | 'write') => void;
}

/** A call's outcome on the wire: transports never throw across the boundary. */
export type CallOutcome = { ok: true; result: unknown } | { ok: false; error: ApiErrorData };

/** An event pushed to every open window (training progress, job progress, status changes). */
export interface ApiEvent {
  type: string;
  [key: string]: unknown;
}

export interface ApiHost {
  /** Validates `args` for `method`, runs it, and never rejects: errors come back as data. */
  call(method: string, args: unknown, context?: CallContext): Promise<CallOutcome>;
  /** Subscribes to every event; returns the unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** Names of the contract's methods (the Electron preload exposes exactly these). */
  readonly methods: readonly string[];
}

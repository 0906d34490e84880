/**
 * The renderer's one way to the API: `window.dg` in Electron (electron/preload.ts), browser mode's HTTP
 * calls and WebSocket events otherwise. Components call `api(method, args)` and subscribe to events;
 * errors come back as ApiError-shaped data (code, message, where, hint) thrown as `CallError`.
 */
export interface ApiErrorData {
  code: string;
  message: string;
  where?: { file?: string; row?: number; column?: string; series?: string };
  hint?: { text: string; option?: string; value?: unknown; action?: string };
}

export type CallOutcome = { ok: true; result: unknown } | { ok: false; error: ApiErrorData };

export interface ApiEvent {
  type: string;
  [key: string]: unknown;
}

interface Bridge {
  methods: readonly string[];
  call(method: string, args?: unknown): Promise<CallOutcome>;
  pickFile(filters?: { name: string; extensions: string[] }[]): Promise<string | null>;
  pickSave(defaultName?: string): Promise<string | null>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}

declare global {
  interface Window {
    dg?: Bridge;
  }
}

export class CallError extends Error implements ApiErrorData {
  readonly code: string;
  readonly where?: ApiErrorData['where'];
  readonly hint?: ApiErrorData['hint'];
  constructor(data: ApiErrorData) {
    super(data.message);
    this.code = data.code;
    this.where = data.where;
    this.hint = data.hint;
  }
}

const listeners = new Set<(event: ApiEvent) => void>();
let socket: WebSocket | undefined;

function connectEvents(): void {
  if (window.dg) {
    window.dg.onEvent((event) => {
      for (const l of listeners) l(event);
    });
    return;
  }
  socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/events`);
  socket.onmessage = (message) => {
    const event = JSON.parse(String(message.data)) as ApiEvent;
    for (const l of listeners) l(event);
  };
  // reconnect after a server restart (the cookie still holds the token)
  socket.onclose = () => setTimeout(connectEvents, 1000);
}

let connected = false;

/** Subscribes to every event from the service; returns the unsubscribe function. */
export function onEvent(listener: (event: ApiEvent) => void): () => void {
  if (!connected) {
    connected = true;
    connectEvents();
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function rawCall(method: string, args: unknown): Promise<CallOutcome> {
  if (window.dg) return window.dg.call(method, args);
  const response = await fetch(`/api/call/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args ?? {}), credentials: 'same-origin' });
  return (await response.json()) as CallOutcome;
}

/** Calls an API method; resolves with its result or throws a CallError. */
export async function api<T = unknown>(method: string, args: unknown = {}): Promise<T> {
  const outcome = await rawCall(method, args);
  if (!outcome.ok) throw new CallError(outcome.error);
  return outcome.result as T;
}

/** Whether the app runs in Electron (native file dialogs) or in a browser (uploads). */
export const inElectron = () => Boolean(window.dg);

/**
 * A file the service may read: in Electron the user picks a path in a native dialog; in a browser the
 * chosen File is uploaded (with progress) and the server's copy is used.
 */
export async function provideFile(file: File, onProgress?: (sent: number, total: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api/upload?name=${encodeURIComponent(file.name)}`);
    request.setRequestHeader('content-type', 'application/octet-stream');
    request.upload.onprogress = (e) => onProgress?.(e.loaded, e.total);
    request.onload = () => {
      const outcome = JSON.parse(request.responseText) as CallOutcome;
      if (outcome.ok) resolve((outcome.result as { path: string }).path);
      else reject(new CallError(outcome.error));
    };
    request.onerror = () => reject(new CallError({ code: 'internal', message: `the upload of ${file.name} failed` }));
    request.send(file);
  });
}

/** Electron only: a native open dialog; null when cancelled. */
export const pickFile = (filters?: { name: string; extensions: string[] }[]) => window.dg?.pickFile(filters) ?? Promise.resolve(null);

/** A link that downloads a file from the store (browser mode); Electron saves through pickSave + exports.copyTo. */
export const downloadUrl = (path: string) => `/api/download?path=${encodeURIComponent(path)}`;

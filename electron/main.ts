/**
 * The desktop shell's main process: one window showing the renderer from the app's own protocol
 * (app://dg/), the service (core/api) hosted here with training in a utilityProcess, and one namespaced
 * IPC channel to it. It decides nothing: it checks who is asking, confines file arguments to what the user
 * picked in a native dialog, and carries calls and events. Bundled to electron/dist/main.mjs by
 * electron/build.ts (Electron runs JavaScript only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, type IpcMainInvokeEvent, type OpenDialogOptions } from 'electron';
import { ApiError } from '../core/api/errors.ts';
import { createApiHost } from '../core/api/host.ts';
import type { ApiHost, CallOutcome } from '../core/api/transport.ts';
import { createPathGuard, isInside } from '../core/server/paths.ts';
import { contentSecurityPolicy } from '../core/server/static.ts';
import { defaultStoreDir } from '../core/store/paths.ts';
import { CHANNELS, METHODS_ARG, type FileFilter } from './bridge.ts';
import { launchUtilityWorker } from './worker-launcher.ts';

const SCHEME = 'app';
const APP_ORIGIN = `${SCHEME}://dg`;
const APP_URL = `${APP_ORIGIN}/index.html`;

const distDir = path.dirname(fileURLToPath(import.meta.url)); // electron/dist
const appRoot = path.resolve(distDir, '..', '..');
const rendererDir = fs.existsSync(path.join(appRoot, 'renderer', 'dist', 'index.html')) ? path.join(appRoot, 'renderer', 'dist') : path.join(appRoot, 'renderer', 'placeholder');
const CSP = contentSecurityPolicy();

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

// Must happen before `ready`: app:// behaves like a secure origin with fetch.
protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

const windows = new Set<BrowserWindow>();
const picked = createPathGuard(); // no roots: only paths picked in a dialog
let host: (ApiHost & { close(): Promise<void> }) | undefined;

function isAppUrl(url: string | undefined): boolean {
  return typeof url === 'string' && (url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`));
}

/** The sender is one of our windows' main frame, showing the app itself. */
function trustedSender(event: IpcMainInvokeEvent): BrowserWindow | undefined {
  const win = BrowserWindow.fromWebContents(event.sender);
  if (!win || !windows.has(win)) return undefined;
  const frame = event.senderFrame;
  if (!frame || frame !== event.sender.mainFrame || !isAppUrl(frame.url)) return undefined;
  return win;
}

const refused = (message: string): CallOutcome => ({ ok: false, error: { code: 'forbidden', message } });

async function serveRenderer(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host !== 'dg') return new Response('Not found', { status: 404 });
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname);
  } catch {
    return new Response('Bad path', { status: 400 });
  }
  if (rel.includes('\0')) return new Response('Bad path', { status: 400 });
  const root = fs.realpathSync(rendererDir);
  let file = path.resolve(root, `.${rel === '/' ? '/index.html' : rel}`);
  try {
    file = fs.realpathSync(file);
  } catch {
    return new Response('Not found', { status: 404 });
  }
  if (!isInside(root, file) || !fs.statSync(file).isFile()) return new Response('Not found', { status: 404 });
  const response = await net.fetch(pathToFileURL(file).href);
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const headers = new Headers({ 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
  if (type.startsWith('text/html')) headers.set('Content-Security-Policy', CSP);
  return new Response(response.body, { status: 200, headers });
}

function createWindow(api: ApiHost): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'DoppelGANger Studio',
    show: false,
    webPreferences: {
      preload: path.join(distDir, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
      additionalArguments: [`${METHODS_ARG}${JSON.stringify(api.methods)}`],
    },
  });
  windows.add(win);
  win.on('closed', () => windows.delete(win));
  win.once('ready-to-show', () => win.show());
  win.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  win.webContents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  void win.loadURL(APP_URL);
  return win;
}

function fileFilters(filters: unknown): FileFilter[] | undefined {
  if (!Array.isArray(filters)) return undefined;
  const out: FileFilter[] = [];
  for (const f of filters.slice(0, 20)) {
    if (!f || typeof f !== 'object') continue;
    const { name, extensions } = f as { name?: unknown; extensions?: unknown };
    if (typeof name !== 'string' || !Array.isArray(extensions)) continue;
    const exts = extensions.filter((e): e is string => typeof e === 'string' && /^[A-Za-z0-9*]{1,16}$/.test(e));
    out.push({ name: name.slice(0, 100), extensions: exts });
  }
  return out.length > 0 ? out : undefined;
}

function registerIpc(api: ApiHost): void {
  const authorizePath = (p: string, access: 'read' | 'write') => picked.authorize(p, access);

  ipcMain.handle(CHANNELS.call, async (event, method: unknown, args: unknown): Promise<CallOutcome> => {
    if (!trustedSender(event)) return refused('This window may not call the service.');
    if (typeof method !== 'string' || !api.methods.includes(method)) {
      return { ok: false, error: { code: 'invalid_argument', message: `No such method: ${String(method)}` } };
    }
    try {
      return await api.call(method, args, { authorizePath });
    } catch (err) {
      // ApiHost.call never rejects; this only guards the channel.
      return { ok: false, error: err instanceof ApiError ? err.toData() : { code: 'internal', message: String(err) } };
    }
  });

  ipcMain.handle(CHANNELS.pickFile, async (event, filters: unknown): Promise<string | null> => {
    const win = trustedSender(event);
    if (!win) return null;
    const options: OpenDialogOptions = { properties: ['openFile'] };
    const f = fileFilters(filters);
    if (f) options.filters = f;
    const result = await dialog.showOpenDialog(win, options);
    const chosen = result.canceled ? undefined : result.filePaths[0];
    if (!chosen) return null;
    picked.grant(chosen, 'read');
    return chosen;
  });

  ipcMain.handle(CHANNELS.pickSave, async (event, defaultName: unknown): Promise<string | null> => {
    const win = trustedSender(event);
    if (!win) return null;
    const name = typeof defaultName === 'string' ? path.basename(defaultName).slice(0, 200) : undefined;
    const result = await dialog.showSaveDialog(win, name ? { defaultPath: path.join(app.getPath('documents'), name) } : {});
    if (result.canceled || !result.filePath) return null;
    picked.grant(result.filePath, 'write');
    return result.filePath;
  });

  api.onEvent((e) => {
    for (const win of windows) if (!win.isDestroyed()) win.webContents.send(CHANNELS.event, e);
  });
}

function lockDown(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    const win = [...windows][0];
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  await app.whenReady();
  lockDown();
  protocol.handle(SCHEME, serveRenderer);
  let api: ApiHost & { close(): Promise<void> };
  try {
    api = await createApiHost({ storeDir: defaultStoreDir(), launchWorker: launchUtilityWorker, seedDemo: true });
  } catch (err) {
    dialog.showErrorBox('DoppelGANger Studio could not open its store', err instanceof Error ? err.message : String(err));
    app.exit(1);
    return;
  }
  host = api;
  registerIpc(api);
  createWindow(api);
  app.on('activate', () => {
    if (windows.size === 0 && host) createWindow(api);
  });
}

let closing = false;
app.on('before-quit', (event) => {
  if (!host || closing) return;
  event.preventDefault();
  closing = true;
  const h = host;
  host = undefined;
  h.close()
    .catch((err) => console.error('dg: closing the store failed:', err))
    .finally(() => app.quit());
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

main().catch((err) => {
  console.error(err);
  app.exit(1);
});

/**
 * `npm start [-- --browser] [--port P] [--store DIR]`: opens the Electron window when Electron's binary is
 * installed, else serves the same app on 127.0.0.1 (browser mode) and opens the default browser.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiHost } from '../core/api/host.ts';
import { startServer } from '../core/server/server.ts';
import { defaultStoreDir } from '../core/store/paths.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The flags, thinly: `--browser`, `--port P`, `--store DIR`. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const forceBrowser = process.argv.includes('--browser');
const port = Number(flag('--port') ?? process.env.DG_PORT ?? 4917);
const storeDir = path.resolve(flag('--store') ?? defaultStoreDir());
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`dg: --port takes a port number, not ${flag('--port')}`);
  process.exit(2);
}

/**
 * Electron's binary, when really installed. Not `require('electron')`: without its binary, that tries to
 * download it.
 */
function electronBinary(): string | undefined {
  const pkg = path.join(root, 'node_modules', 'electron');
  try {
    const rel = fs.readFileSync(path.join(pkg, 'path.txt'), 'utf8').trim();
    const bin = path.join(pkg, 'dist', rel);
    fs.accessSync(bin, fs.constants.X_OK);
    return fs.statSync(bin).isFile() ? bin : undefined;
  } catch {
    return undefined;
  }
}

async function startElectron(bin: string): Promise<void> {
  const { buildElectron, electronBuildIsStale, outputs } = await import('../electron/build.ts');
  if (electronBuildIsStale()) {
    console.log('dg: building the Electron shell…');
    await buildElectron();
  }
  const child = spawn(bin, [outputs[0]!], { stdio: 'inherit', env: { ...process.env, DG_STORE_DIR: storeDir } });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function openBrowser(url: string): void {
  if (process.env.DG_NO_BROWSER === '1') return;
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no browser: the printed link is enough
  }
}

async function startBrowserMode(): Promise<void> {
  fs.mkdirSync(storeDir, { recursive: true });
  let host: Awaited<ReturnType<typeof createApiHost>>;
  try {
    host = await createApiHost({ storeDir, seedDemo: true });
  } catch (err) {
    // a store in use, from a newer version, or unreadable: the message says what to do
    console.error(`dg: ${(err as Error).message}`);
    process.exit(1);
  }
  // Uploads go beside the store (datasets can be larger than a RAM-backed /tmp) and are removed on exit.
  fs.mkdirSync(path.join(storeDir, 'uploads'), { recursive: true });
  const uploadDir = fs.mkdtempSync(path.join(storeDir, 'uploads', 'session-'));
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(host, { port, uploadDir, allowedRoots: [storeDir] });
  } catch (err) {
    await host.close();
    const code = (err as NodeJS.ErrnoException).code;
    console.error(code === 'EADDRINUSE' ? `dg: port ${port} is in use; pick another with --port` : `dg: ${(err as Error).message}`);
    process.exit(1);
  }
  console.log(`DoppelGANger Studio: ${server.url}`);
  console.log(`Store: ${storeDir}`);
  openBrowser(server.url);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await server.close();
      await host.close();
    } finally {
      fs.rmSync(uploadDir, { recursive: true, force: true });
      process.exit(0);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Newest modification time of the files under `dir` (0 when there are none). */
function newest(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return Math.max(
    0,
    ...fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs),
  );
}

/** Builds the renderer into renderer/dist when it is missing or older than its sources (a first start, a pull). */
async function buildRendererIfStale(): Promise<void> {
  const rendererDir = path.join(root, 'renderer');
  const built = path.join(rendererDir, 'dist', 'index.html');
  const sources = Math.max(newest(path.join(rendererDir, 'src')), fs.statSync(path.join(rendererDir, 'index.html')).mtimeMs);
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= sources) return;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    console.error('dg: the renderer is not built and Vite is not installed (npm ci installs it): showing the placeholder page');
    return;
  }
  console.log("dg: building the app's screens (once)…");
  await vite.build({ configFile: path.join(rendererDir, 'vite.config.ts'), logLevel: 'warn' });
}

await buildRendererIfStale();
const bin = forceBrowser ? undefined : electronBinary();
if (bin) await startElectron(bin);
else await startBrowserMode();

/**
 * Bundles the Electron shell (Electron runs JavaScript, not TypeScript):
 *   electron/main.ts            -> electron/dist/main.mjs             (ESM, the main process)
 *   electron/preload.ts         -> electron/dist/preload.cjs          (CommonJS: a sandboxed preload)
 *   electron/training-worker.ts -> electron/dist/training-worker.mjs  (the utilityProcess entry)
 * Packages stay external (they ship in node_modules; several carry native or wasm files), only our own
 * sources are bundled. Code under core/ that finds files next to itself through `import.meta.url` (the
 * native addon, the renderer) keeps finding them: each such use is rewritten to that source file's own
 * URL, relative to the bundle.
 *
 *   node --import tsx electron/build.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const electronDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(electronDir, '..');
export const outDir = path.join(electronDir, 'dist');

export const outputs = ['main.mjs', 'preload.cjs', 'training-worker.mjs'].map((f) => path.join(outDir, f));

/** Keeps `import.meta.url` meaning "this source file" inside the bundle. */
const sourceUrlPlugin: esbuild.Plugin = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      let text = await fs.promises.readFile(args.path, 'utf8');
      if (text.includes('import.meta.url') && !args.path.startsWith(electronDir + path.sep)) {
        const rel = path.relative(outDir, args.path).split(path.sep).join('/');
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

const common: esbuild.BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  packages: 'external',
  external: ['electron'],
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [sourceUrlPlugin],
};

// ESM bundles may still meet a CommonJS `require` in our sources' dependencies.
const esmBanner = { js: "import { createRequire as __dgCreateRequire } from 'node:module'; const require = __dgCreateRequire(import.meta.url);" };

export async function buildElectron(): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  await Promise.all([
    esbuild.build({ ...common, entryPoints: [path.join(electronDir, 'main.ts')], outfile: outputs[0], format: 'esm', banner: esmBanner }),
    esbuild.build({ ...common, entryPoints: [path.join(electronDir, 'preload.ts')], outfile: outputs[1], format: 'cjs', sourcemap: false }),
    esbuild.build({ ...common, entryPoints: [path.join(electronDir, 'training-worker.ts')], outfile: outputs[2], format: 'esm', banner: esmBanner }),
  ]);
}

function newestSource(dir: string, newest = 0): number {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'node_modules' && entry.name !== 'build') newest = newestSource(p, newest);
    } else if (entry.name.endsWith('.ts')) {
      newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  }
  return newest;
}

/** True when a bundle is missing or older than a source under electron/ or core/. */
export function electronBuildIsStale(): boolean {
  let oldest = Infinity;
  for (const out of outputs) {
    try {
      oldest = Math.min(oldest, fs.statSync(out).mtimeMs);
    } catch {
      return true;
    }
  }
  return Math.max(newestSource(electronDir), newestSource(path.join(root, 'core'))) > oldest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await buildElectron();
  console.log(`dg: built ${outputs.map((o) => path.relative(root, o)).join(', ')}`);
}

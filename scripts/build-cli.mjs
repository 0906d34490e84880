// `npm run build:cli`: compiles core/ (everything the CLI imports) to JavaScript in .build/core/, so that the
// installed `dg` starts without transpiling TypeScript at every run (bin/dg.js uses it when fresh).
//
// File by file (TypeScript's transpileModule, as tsx/esbuild do: the code is already written for that),
// so it takes a second and never fails on a type error: type checking is `npm run typecheck`'s job.
// `rewriteRelativeImportExtensions` turns './x.ts' imports into './x.js'. The mirror keeps core/'s layout
// one level down; code that finds files relative to itself goes through core/util/root.ts.
//
// .build/stamp.json records when the build started and which sources it read: bin/dg.js compares their
// mtimes with it and falls back to tsx when any source is newer (an edited file never runs stale).
// Plain JavaScript: it runs at install (package.json's install script) without tsx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outRoot = path.join(root, '.build');
const started = Date.now();

/** core/'s TypeScript sources, relative to the root (not the native build's folders). */
function sources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'build', 'out', 'vendor'].includes(entry.name)) found.push(...sources(rel));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(rel);
  }
  return found;
}

const compilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  rewriteRelativeImportExtensions: true,
  sourceMap: true,
  esModuleInterop: true,
};

// Start from an empty mirror: a source deleted since the last build must not linger as JavaScript.
fs.rmSync(outRoot, { recursive: true, force: true });
const files = sources('core');
for (const rel of files) {
  const out = path.join(outRoot, rel.replace(/\.ts$/, '.js'));
  const { outputText, sourceMapText, diagnostics } = ts.transpileModule(fs.readFileSync(path.join(root, rel), 'utf8'), {
    compilerOptions,
    fileName: path.join(root, rel),
    reportDiagnostics: true,
  });
  if (diagnostics?.length) {
    console.error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, outputText);
  if (sourceMapText) {
    // the map's sources, relative to the emitted file, point back at the .ts (for --enable-source-maps)
    const map = JSON.parse(sourceMapText);
    map.sources = [path.relative(path.dirname(out), path.join(root, rel))];
    fs.writeFileSync(`${out}.map`, JSON.stringify(map));
  }
}

// The vendored tfjs gradients (generated JavaScript, imported as './vendor/tfjs-gradients.js') sit beside
// the reference engine: copied when the install step has made them.
const vendor = path.join(root, 'core/model/vendor');
if (fs.existsSync(vendor)) fs.cpSync(vendor, path.join(outRoot, 'core/model/vendor'), { recursive: true });

fs.writeFileSync(path.join(outRoot, 'stamp.json'), `${JSON.stringify({ started, sources: files.map((f) => f.split(path.sep).join('/')) })}\n`);
console.error(`dg: compiled ${files.length} files to .build/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);

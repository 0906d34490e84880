/**
 * The layering, read from the imports: util <- {data, store} <- encoding <- model <- train <-
 * {privacy, eval, export} <- api <- {cli, server} <- electron <- scripts (npm start). A module imports only from its
 * own folder or from a lower layer; privacy, eval and export are siblings that do not import each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const RANK: Record<string, number> = {
  'core/util': 0,
  'core/data': 1,
  'core/store': 1,
  'core/encoding': 2,
  'core/model': 3,
  'core/train': 4,
  'core/privacy': 5,
  'core/eval': 5,
  'core/export': 5,
  'core/api': 6,
  'core/cli': 7,
  'core/server': 7,
  electron: 8,
  scripts: 9,
};

/** Folders that are one layer: the C core's TypeScript tools (tensor dumps) belong with the model. */
const SAME_LAYER: Record<string, string> = { 'core/native': 'core/model' };

function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'build' || e.name === 'dist' ? [] : sources(full);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The layer a file belongs to: the longest RANK key its repository path starts with. */
function layerOf(file: string): string | undefined {
  const rel = path.relative(repo, file).split(path.sep).join('/');
  const alias = Object.keys(SAME_LAYER).find((k) => rel.startsWith(`${k}/`));
  if (alias) return SAME_LAYER[alias];
  return Object.keys(RANK)
    .filter((k) => rel === k || rel.startsWith(`${k}/`))
    .sort((a, b) => b.length - a.length)[0];
}

/** Relative module specifiers of static imports, re-exports and dynamic imports (type-only ones too). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) found.push(m[1]);
  return found;
}

test('every module imports only from its own layer folder or a lower layer', () => {
  const files = ['core', 'electron', 'scripts'].flatMap((d) => sources(path.join(repo, d)));
  assert.ok(files.length > 50, `found only ${files.length} source files`);
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    assert.ok(from, `${path.relative(repo, file)} belongs to no layer: add its folder to RANK`);
    for (const spec of importsOf(file)) {
      const to = layerOf(path.resolve(path.dirname(file), spec));
      if (!to || to === from) continue;
      if (RANK[to] >= RANK[from]) violations.push(`${path.relative(repo, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

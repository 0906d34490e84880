#!/usr/bin/env node
// The `dg` command. Runs the compiled CLI (.build/, made by `npm run build:cli` at install) when it is
// there and no source is newer than it; else the TypeScript sources through tsx, so that a developer who
// edits a .ts file never runs stale JavaScript. DG_CLI_BUILD names another build folder (the tests use it;
// a folder without a build forces the sources).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.DG_CLI_BUILD ? path.resolve(process.env.DG_CLI_BUILD) : path.join(root, '.build');

/** Whether the build exists and every source it was made from is older than the build's start. */
function fresh() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(build, 'stamp.json'), 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(stamp?.sources) || typeof stamp.started !== 'number') return false;
  // ~110 stat calls, about a millisecond; a source deleted since the build also makes it stale
  for (const source of stamp.sources) {
    const stat = fs.statSync(path.join(root, source), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs > stamp.started) return false;
  }
  return true;
}

let entry;
if (fresh()) {
  entry = path.join(build, 'core', 'cli', 'main.js');
} else {
  try {
    (await import('tsx/esm/api')).register();
  } catch {
    process.stderr.write('dg: no up-to-date compiled CLI (npm run build:cli) and no tsx to run the TypeScript sources\n');
    process.exit(1);
  }
  entry = path.join(root, 'core', 'cli', 'main.ts');
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));

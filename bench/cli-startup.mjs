// CLI start-up times (issue 16): wall time of `dg --help` and `dg --version` to exit, and of `dg inspect`
// and `dg generate` to their first line of output (the first byte on stdout or stderr: the first sign of
// work). Plain JavaScript so that it measures the CLI, not a loader of its own.
//   node bench/cli-startup.mjs [RUNS]        (default 5 runs each; prints a Markdown table)
// DG_CLI_BUILD=/nonexistent forces bin/dg.js onto its tsx fallback (the "before" column).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dg = path.join(repo, 'bin', 'dg.js');
const runs = Number(process.argv[2] ?? 5);

/** Seconds from spawn to the first output byte (`first`) or to exit. */
function time(args, { first = false, cwd = repo } = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [dg, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const seconds = () => Number(process.hrtime.bigint() - start) / 1e9;
    let done = false;
    const onData = () => {
      if (!first || done) return;
      done = true;
      resolve(seconds());
      child.kill('SIGKILL');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      if (code !== 0) reject(new Error(`dg ${args.join(' ')} exited ${code}`));
      else resolve(seconds());
    });
  });
}

// a small trained run for `dg generate` (a few native iterations on the demo data)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-startup-'));
const csv = path.join(tmp, 'lines.csv');
const writer = `const { demoDataset } = await import(${JSON.stringify(path.join(repo, 'core/data/demo.ts'))});
const { writeDataset } = await import(${JSON.stringify(path.join(repo, 'core/export/index.ts'))});
await writeDataset(demoDataset({ series: 40, length: 12, seed: 1 }), ${JSON.stringify(csv)});`;
const train = spawnSync(process.execPath, ['--import', 'tsx', '-e', writer], { encoding: 'utf8' });
if (train.status !== 0) throw new Error(train.stderr);
const trained = spawnSync(process.execPath, [dg, 'train', csv, '--id', 'line_id', '--sample-len', '4', '--iterations', '4', '--batch', '8', '--out', 'run'], { cwd: tmp, encoding: 'utf8' });
if (trained.status !== 0) throw new Error(trained.stderr);

const cases = [
  ['dg --help (to exit)', ['--help'], {}],
  ['dg --version (to exit)', ['--version'], {}],
  ['dg inspect tests/fixtures/mba/fcc_mba.csv (first line)', ['inspect', 'tests/fixtures/mba/fcc_mba.csv'], { first: true }],
  ['dg generate run -n 100000 --out s.csv (first line)', ['generate', 'run', '-n', '100000', '--out', 's.csv'], { first: true, cwd: tmp }],
];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(`${new Date().toISOString()}, Node ${process.version}, load ${load()}, DG_CLI_BUILD=${process.env.DG_CLI_BUILD ?? '(default)'}`);
console.log('| command | runs (s) | median |\n| --- | --- | --- |');
for (const [name, args, options] of cases) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await time(args, options));
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
  console.log(`| \`${name}\` | ${times.map((t) => t.toFixed(2)).join(', ')} | ${median.toFixed(2)} |`);
}
console.log(`load after: ${load()}`);
fs.rmSync(tmp, { recursive: true, force: true });

/**
 * Concurrency, orphans and system errors on real files and real processes: two trainers in one run
 * folder, temporary files left by a `kill -9`, the training curve after a crash and resume, and the
 * errors a user sees for a folder, a device, a damaged run.json and a missing output folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateToFile } from '../core/api/generate.ts';
import { RUN_LOCK, resumeTraining, startTraining, type TrainRequest } from '../core/api/training.ts';
import { demoDataset } from '../core/data/demo.ts';
import { readDataset } from '../core/data/index.ts';
import { writeDataset } from '../core/export/index.ts';
import { RUN_FILES } from '../core/train/run-folder.ts';
import type { ApiError } from '../core/util/errors.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dgBin = path.join(repo, 'bin', 'dg.js');

async function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-robust-'));
  const file = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 24, length: 12, seed: 5 }), file);
  return { dir, file };
}

const request = (file: string, runDir: string, iterations = 30): TrainRequest => ({
  data: { file, options: { idColumn: 'line_id', timeColumn: 'hour' } },
  runDir,
  iterations,
  batchSize: 8,
  sampleLen: 4,
  engine: 'native',
  checkpointEvery: 10,
});

/** A pid that certainly belongs to no process: one that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

const code = (c: string, pattern: RegExp) => (e: ApiError) => e.code === c && pattern.test(e.message);

test('two trainers in one run folder: the second is refused with who holds it, the first completes', async () => {
  const { dir, file } = await fixture();
  const runDir = path.join(dir, 'run');
  const results = await Promise.allSettled([startTraining(request(file, runDir)), startTraining(request(file, runDir))]);
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 1, JSON.stringify(results.map((r) => r.status)));
  const reason = (refused[0] as PromiseRejectedResult).reason as ApiError;
  assert.equal(reason.code, 'conflict');
  assert.match(reason.message, /already in use by this process|already holds a training run/);
  assert.equal((results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ status: string }>).value.status, 'complete');
  assert.ok(!fs.existsSync(path.join(runDir, RUN_LOCK)), 'the lock is released');
  // a second process is refused while one trains, naming its pid
  const child = spawn(process.execPath, [dgBin, 'train', '--resume', runDir, '--iterations', '1000000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve) =>
    child.stderr.on('data', (c) => {
      stderr += c;
      if (/training/.test(stderr)) resolve();
    }),
  );
  await assert.rejects(resumeTraining(runDir, {}, { iterations: 2_000_000 }), code('conflict', new RegExp(`in use by another process \\(pid ${child.pid}\\)`)));
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
});

test('temporary files of dead processes are removed at the next resume and the next generation into the same file', async () => {
  const { dir, file } = await fixture();
  const runDir = path.join(dir, 'run');
  await startTraining(request(file, runDir, 20));
  const dead = deadPid();
  const staleCheckpoint = path.join(runDir, `${RUN_FILES.checkpoint}.tmp-${dead}`);
  fs.writeFileSync(staleCheckpoint, 'half a checkpoint');
  const logs: string[] = [];
  await resumeTraining(runDir, { onLog: (m) => logs.push(m) }, { iterations: 30 });
  assert.ok(!fs.existsSync(staleCheckpoint));
  assert.ok(
    logs.some((l) => l.includes(path.basename(staleCheckpoint))),
    logs.join('\n'),
  );

  // a real kill -9 of `dg generate` while it writes
  const out = path.join(dir, 'synthetic.csv');
  const child = spawn(process.execPath, [dgBin, 'generate', runDir, '-n', '4000000', '--out', out], { stdio: 'ignore' });
  const temporary = `${out}.tmp-${child.pid}`;
  for (let i = 0; i < 600 && !(fs.existsSync(temporary) && fs.statSync(temporary).size > 0); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.existsSync(temporary), 'kill -9 left the temporary file (nothing could remove it)');
  const written = await generateToFile({ runDir, n: 5, out });
  assert.equal(written.series, 5);
  assert.ok(!fs.existsSync(temporary), 'the next generation into that file removed it');
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
  );
});

test('after a crash and a resume, the training curve has one line per logged iteration', async () => {
  const { dir, file } = await fixture();
  const runDir = path.join(dir, 'run');
  // 24 series, batch 8: a line every 3 iterations; checkpoints every 10: a kill leaves lines past the checkpoint
  const child = spawn(
    process.execPath,
    [dgBin, 'train', file, '--id', 'line_id', '--time', 'hour', '--sample-len', '4', '--batch', '8', '--iterations', '100000', '--checkpoint-every', '10', '--engine', 'native', '--out', runDir],
    { stdio: 'ignore' },
  );
  const progress = path.join(runDir, RUN_FILES.progress);
  const lines = () => (fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim().split('\n').filter(Boolean).length : 0);
  for (let i = 0; i < 600 && lines() < 40; i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await resumeTraining(runDir, {}, { iterations: 150 });
  const iterations = fs
    .readFileSync(progress, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).iteration as number);
  assert.deepEqual(
    iterations,
    Array.from({ length: 50 }, (_, k) => 3 * (k + 1)),
  );
});

test('a folder, a device, a damaged run.json and a missing output folder are said as such', async () => {
  const { dir, file } = await fixture();
  await assert.rejects(readDataset(dir), code('data_error', /is a folder, not a data file/));
  await assert.rejects(readDataset('/dev/zero'), code('data_error', /not a regular file/));
  const runDir = path.join(dir, 'run');
  await startTraining(request(file, runDir, 10));
  await assert.rejects(generateToFile({ runDir, n: 3, out: path.join(dir, 'no', 'such', 'folder', 'out.csv') }), code('not_found', /the folder .*no\/such\/folder does not exist/));
  fs.writeFileSync(path.join(runDir, RUN_FILES.run), '{"source": "lines.csv", "trainS');
  await assert.rejects(resumeTraining(runDir, {}, { iterations: 20 }), code('data_error', /run\.json is damaged/));
  // the same through the CLI: no stack, no errno, what to do
  const cli = spawnSync(process.execPath, [dgBin, 'inspect', dir], { encoding: 'utf8' });
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^dg: .* is a folder, not a data file\nhint: choose a CSV, Parquet or Arrow file inside it\n$/);
});

test('a run folder holding the files of two runs is refused with what happened, not run', async () => {
  const { dir, file } = await fixture();
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await startTraining(request(file, a, 10));
  await startTraining(request(file, b, 10));
  const keep = fs.readFileSync(path.join(a, RUN_FILES.train));
  fs.copyFileSync(path.join(b, RUN_FILES.train), path.join(a, RUN_FILES.train));
  await assert.rejects(resumeTraining(a, {}, { iterations: 20 }), code('data_error', /train\.dgt belongs to another run than its checkpoint .*mixes the files of two runs/));
  fs.writeFileSync(path.join(a, RUN_FILES.train), keep);
  fs.copyFileSync(path.join(b, RUN_FILES.run), path.join(a, RUN_FILES.run));
  await assert.rejects(generateToFile({ runDir: a, n: 2, out: path.join(dir, 'x.csv') }), code('data_error', /run\.json belongs to another run than the checkpoint/));
});

/**
 * The contract suite: one scenario (project -> import -> plan -> train in a worker -> generate ->
 * evaluate -> export -> audit) run against the real service and SQLite store, once in-process and once
 * over browser mode's real HTTP + WebSocket. Then a server killed with SIGKILL mid-training: restarted,
 * its run shows `interrupted`, resumes, and ends with the weights an uninterrupted resume of the same
 * checkpoint gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createApiHost } from '../core/api/host.ts';
import type { ApiEvent, CallOutcome } from '../core/api/transport.ts';
import { resumeTraining, startTraining } from '../core/api/training.ts';
import { demoDataset } from '../core/data/demo.ts';
import { writeDataset } from '../core/export/index.ts';
import { startServer } from '../core/server/server.ts';
import { readCheckpoint } from '../core/train/checkpoint.ts';
import { RUN_FILES } from '../core/train/run-folder.ts';

/** Results as JSON: the scenario checks them field by field. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Client {
  call(method: string, args?: unknown): Promise<CallOutcome>;
  /** A path the service may read: the file itself in-process, an upload over HTTP. */
  provide(file: string): Promise<string>;
  events: ApiEvent[];
  close(): Promise<void>;
}

async function ok<T = Json>(client: Client, method: string, args: unknown = {}): Promise<T> {
  const outcome = await client.call(method, args);
  assert.ok(outcome.ok, `${method}: ${JSON.stringify(!outcome.ok && outcome.error)}`);
  return outcome.result as T;
}

async function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-api-'));
  const csv = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 30, length: 12, seed: 5 }), csv);
  return { dir, csv };
}

async function inProcess(storeDir: string): Promise<Client> {
  const host = await createApiHost({ storeDir });
  const events: ApiEvent[] = [];
  host.onEvent((e) => events.push(e));
  return { call: (m, a) => host.call(m, a), provide: async (f) => f, events, close: () => host.close() };
}

/** A client of a browser-mode server: bearer token for calls and uploads, the socket with the page's Origin. */
async function overHttp(url: string, token: string): Promise<Client> {
  const origin = new URL(url).origin;
  const headers = { authorization: `Bearer ${token}` };
  const events: ApiEvent[] = [];
  const socket = new WebSocket(`${origin.replace('http', 'ws')}/api/events`, { headers: { ...headers, origin } });
  socket.on('message', (data) => events.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    events,
    async call(method, args = {}) {
      const response = await fetch(`${origin}/api/call/${method}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(args) });
      return (await response.json()) as CallOutcome;
    },
    async provide(file) {
      const response = await fetch(`${origin}/api/upload?name=${encodeURIComponent(path.basename(file))}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: fs.readFileSync(file),
      });
      const outcome = (await response.json()) as CallOutcome;
      assert.ok(outcome.ok, JSON.stringify(outcome));
      return (outcome.result as { path: string }).path;
    },
    async close() {
      socket.close();
    },
  };
}

const settings = { iterations: 60, batchSize: 8, sampleLen: 4, engine: 'native', checkpointEvery: 20, holdoutFraction: 0.2 };

async function untilSettled(client: Client, runId: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const run = await ok(client, 'runs.get', { runId });
    if (!run.live && run.status !== 'running') return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not settle`);
}

async function contractSuite(client: Client, csv: string) {
  const info = await ok(client, 'app.info');
  assert.equal(info.name, 'DoppelGANger Studio');

  // bad input is a typed error naming the field, never a crash
  const empty = await client.call('projects.create', { name: '' });
  assert.ok(!empty.ok && empty.error.code === 'invalid_argument' && empty.error.hint?.option === 'name', JSON.stringify(empty));
  const extra = await client.call('projects.create', { name: 'x', bogus: 1 });
  assert.ok(!extra.ok && extra.error.code === 'invalid_argument');
  const unknown = await client.call('projects.explode', {});
  assert.ok(!unknown.ok && unknown.error.code === 'invalid_argument' && /unknown method/.test(unknown.error.message));
  const missing = await client.call('runs.get', { runId: 'no-such-run' });
  assert.ok(!missing.ok && missing.error.code === 'not_found', JSON.stringify(missing));
  const badSettings = await client.call('training.plan', { datasetId: 'x', settings: { holdoutFraction: 2 } });
  assert.ok(!badSettings.ok && badSettings.error.code === 'invalid_argument' && badSettings.error.hint?.option === 'settings.holdoutFraction');

  const project = await ok(client, 'projects.create', { name: 'broadband', description: 'demo lines' });
  assert.ok((await ok<Record<string, Json>[]>(client, 'projects.list')).some((p) => p.id === project.id));
  const duplicate = await client.call('projects.create', { name: 'broadband' });
  assert.ok(!duplicate.ok && duplicate.error.code === 'conflict', JSON.stringify(duplicate));

  const file = await client.provide(csv);
  const inspected = await ok(client, 'files.inspect', { path: file, read: { idColumn: 'line_id', timeColumn: 'hour' } });
  assert.equal(inspected.series, 30);
  const badFile = await client.call('datasets.import', { projectId: project.id, path: file, read: { idColumn: 'no_such_column' } });
  assert.ok(!badFile.ok && badFile.error.code === 'data_error' && badFile.error.where?.file, JSON.stringify(badFile));

  const imported = await ok(client, 'datasets.import', { projectId: project.id, path: file, read: { idColumn: 'line_id', timeColumn: 'hour' } });
  assert.equal(imported.dataset.series, 30);
  assert.equal(imported.dataset.rows, 360);
  assert.match(imported.dataset.sha256, /^[0-9a-f]{64}$/);
  const schemas = await ok<Record<string, Json>[]>(client, 'schemas.list', { datasetId: imported.dataset.id });
  assert.deepEqual(
    schemas.map((s) => [s.version, s.origin]),
    [[1, 'inferred']],
  );
  const preview = await ok(client, 'datasets.preview', { datasetId: imported.dataset.id, series: 2, rows: 3 });
  assert.deepEqual(preview.columns.slice(0, 2), ['series', 'time']);
  assert.equal(preview.rows.length, 3);
  assert.equal(preview.series.length, 2);
  assert.equal(preview.series[0].features[0].length, 12);

  // an edited mapping is a new version, checked against the data first
  const edited = structuredClone(schemas[0].schema);
  edited.missing = 'drop';
  assert.equal((await ok(client, 'schemas.save', { datasetId: imported.dataset.id, schema: edited })).version, 2);
  const broken = structuredClone(edited);
  broken.columns.find((c: Json) => c.role === 'feature').name = 'not_a_column';
  const refused = await client.call('schemas.save', { datasetId: imported.dataset.id, schema: broken });
  assert.ok(!refused.ok && refused.error.code === 'data_error', JSON.stringify(refused));

  // planning has no side effects and measures the engine
  const plan = await ok(client, 'training.plan', { datasetId: imported.dataset.id, settings });
  assert.equal(plan.settings.iterations, 60);
  assert.equal(plan.series.training, 24);
  assert.ok(plan.estimate.secondsPerIteration > 0 && plan.estimate.totalSeconds > 0);
  assert.equal((await ok(client, 'projects.get', { projectId: project.id })).runs.length, 0);
  // presets set the length when none is given: 24 series in batches of 8 train 20,001 iterations by default
  const lengths = [];
  for (const preset of ['quick', 'standard', 'thorough'])
    lengths.push(
      (await ok(client, 'training.plan', { datasetId: imported.dataset.id, settings: { preset, batchSize: 8, holdoutFraction: 0.2, privacyGuard: false }, calibrate: false })).settings.iterations,
    );
  assert.deepEqual(lengths, [4000, 20001, 40002]);
  // with the privacy guard on and too small a holdout to watch, a long schedule is capped at 1,000 epochs
  const guarded = await ok(client, 'training.plan', { datasetId: imported.dataset.id, settings: { preset: 'thorough', batchSize: 8, holdoutFraction: 0.2 }, calibrate: false });
  assert.equal(guarded.settings.iterations, 3000);
  const dpPlan = await ok(client, 'training.plan', { datasetId: imported.dataset.id, settings: { ...settings, batchSize: 16, dp: { epsilon: 8, delta: 1e-3 } }, calibrate: false });
  assert.ok(dpPlan.dp.epsilonAtEnd <= 8 && dpPlan.dp.noiseMultiplier > 0 && dpPlan.estimate === null, JSON.stringify(dpPlan.dp));

  const run = await ok(client, 'runs.start', { datasetId: imported.dataset.id, settings });
  assert.equal(run.status, 'running');
  const done = await untilSettled(client, run.id);
  assert.equal(done.status, 'complete', JSON.stringify(done.error));
  assert.equal(done.iteration, 60);
  // what it trained on, for "generate as many as the training data" without planning again
  assert.deepEqual([done.trainingSeries, done.holdoutSeries], [plan.series.training, plan.series.holdout]);
  assert.deepEqual([done.trainingSeries, done.holdoutSeries], [24, 6]);
  const samples = await ok<Record<string, Json>[]>(client, 'runs.progress', { runId: run.id });
  assert.ok(samples.length >= 10 && samples.at(-1)?.iteration === 60, `${samples.length} progress samples`);
  assert.ok(samples.every((s) => Number.isFinite(s.losses.critic)));
  for (let i = 0; i < 50 && !client.events.some((e) => e.type === 'run.status' && e.runId === run.id && e.status === 'complete'); i++) await new Promise((r) => setTimeout(r, 20));
  const types = new Set(client.events.filter((e) => e.runId === run.id).map((e) => e.type));
  for (const type of ['run.status', 'run.progress', 'run.samples', 'run.log']) assert.ok(types.has(type), `no ${type} event`);
  const sampleEvent = client.events.find((e) => e.type === 'run.samples') as Json;
  assert.equal(sampleEvent.samples[0].features[0].length, 12);
  // the latest sample series outlive the worker (the run screen shows them after a reload or a restart)
  const settled = await ok(client, 'runs.get', { runId: run.id });
  assert.equal(settled.live, false);
  assert.equal(settled.samples.iteration, 60);
  assert.equal(settled.samples.samples[0].features[0].length, 12);
  const resumeDone = await client.call('runs.pause', { runId: run.id });
  assert.ok(!resumeDone.ok && resumeDone.error.code === 'conflict');

  const synthetic = await ok(client, 'runs.generate', { runId: run.id, n: 12, seed: 3 });
  assert.equal(synthetic.series, 12);
  const evaluation = await ok(client, 'evaluations.create', { syntheticId: synthetic.id });
  assert.ok(evaluation.statements.length > 0);
  const stored = await ok(client, 'evaluations.get', { evaluationId: evaluation.evaluation.id });
  assert.equal(stored.metrics.version, 1);
  assert.ok(Array.isArray(stored.privacy.attacks));
  const exported = await ok(client, 'exports.create', { syntheticId: synthetic.id, format: 'csv' });
  assert.equal(exported.settings.rows, 12 * 12);
  const whole = await ok(client, 'projects.get', { projectId: project.id });
  assert.deepEqual([whole.datasets.length, whole.runs.length, whole.synthetic.length, whole.evaluations.length, whole.exports.length], [1, 1, 1, 1, 1]);
  // what the result screens show: verdicts, the review in words, charts, runs side by side, exports, the dossier
  assert.ok(stored.fidelity.verdict.length > 0 && stored.fidelity.headlines.length > 0);
  assert.ok(['team', 'partners', 'public'].includes(stored.review.recommendation.level) && stored.review.recommendation.reasons.length > 0);
  assert.equal(stored.run.label, 'Run 1: no DP, 60 iterations');
  const charts = await ok(client, 'evaluations.charts', { evaluationId: evaluation.evaluation.id });
  assert.ok(charts.autocorrelation.length > 0 && charts.values.length > 0 && charts.samples[0].real.length > 0);
  const compared = await ok(client, 'runs.compare', { projectId: project.id });
  assert.deepEqual([compared.runs.length, compared.tradeoff.points.length], [1, 1]);
  const notHere = await client.call('runs.compare', { projectId: project.id, runIds: ['no-such-run'] });
  assert.ok(!notHere.ok && notHere.error.code === 'not_found', JSON.stringify(notHere));
  const listed = await ok(client, 'exports.list', { syntheticId: synthetic.id });
  assert.deepEqual([listed.exports.length, listed.exports[0].id, listed.evaluations.length], [1, exported.id, 1]);
  const dossier = await ok(client, 'exports.dossier', { evaluationId: evaluation.evaluation.id });
  const dossierHtml = fs.readFileSync(dossier.path, 'utf8');
  assert.ok(dossier.format === 'html' && /Sharing recommendation/.test(dossierHtml));
  // the dossier goes with shared data: none of the real series the evaluation's report plots
  assert.ok(!dossierHtml.includes('Real series: ') && /leaves out the real series/.test(dossierHtml), 'the dossier has no real series');

  const audit = await ok<Record<string, Json>[]>(client, 'audit.list', { projectId: project.id });
  for (const action of ['project.create', 'dataset.add', 'run.create', 'export.add'])
    assert.ok(
      audit.some((a) => a.action === action),
      `audit has no ${action}: ${[...new Set(audit.map((a) => a.action))]}`,
    );
  assert.equal((await ok(client, 'audit.verify')).ok, true);
  return { project, exported };
}

test('the contract in-process: project, import, plan, train in a worker, generate, evaluate, export, audit', async () => {
  const { dir, csv } = await fixture();
  const client = await inProcess(path.join(dir, 'store'));
  try {
    const { project, exported } = await contractSuite(client, csv);
    const file = path.join(dir, 'store', 'projects', project.id, exported.file);
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), exported.sha256);
    // the demo project: the built-in data imported like a user's file, once per store
    const demo = await ok(client, 'projects.createDemo');
    assert.deepEqual([demo.datasets.length, demo.datasets[0].series], [1, 400]);
    assert.equal((await ok(client, 'projects.createDemo')).id, demo.id);
  } finally {
    await client.close();
  }
});

test('the same contract over browser mode (HTTP calls, WebSocket events, uploads; paths outside what was uploaded refused)', async () => {
  const { dir, csv } = await fixture();
  const storeDir = path.join(dir, 'store');
  const host = await createApiHost({ storeDir });
  const server = await startServer(host, { port: 0, uploadDir: path.join(dir, 'uploads'), allowedRoots: [storeDir] });
  const client = await overHttp(server.url, server.token);
  try {
    await contractSuite(client, csv);
    // the service never reads a file the user did not upload or pick
    const refused = await client.call('files.inspect', { path: csv });
    assert.ok(!refused.ok && refused.error.code === 'forbidden', JSON.stringify(refused));
    const traversal = await client.call('files.inspect', { path: path.join(storeDir, '..', 'lines.csv') });
    assert.ok(!traversal.ok && traversal.error.code === 'forbidden', JSON.stringify(traversal));
    const write = await client.call('exports.copyTo', { exportId: 'x', path: path.join(dir, 'out.csv') });
    assert.ok(!write.ok && write.error.code === 'forbidden', JSON.stringify(write));
  } finally {
    await client.close();
    await server.close();
    await host.close();
  }
});

test('a crashed training worker leaves the run interrupted at its last checkpoint, and it resumes; a dg train run folder imports into a project', async () => {
  const { dir, csv } = await fixture();
  const client = await inProcess(path.join(dir, 'store'));
  try {
    const project = await ok(client, 'projects.create', { name: 'crashes' });
    const imported = await ok(client, 'datasets.import', { projectId: project.id, path: csv, read: { idColumn: 'line_id', timeColumn: 'hour' } });
    const run = await ok(client, 'runs.start', { datasetId: imported.dataset.id, settings: { ...settings, iterations: 200_000, checkpointEvery: 50 } });
    let live = await ok(client, 'runs.get', { runId: run.id });
    for (let i = 0; i < 600 && live.iteration < 50; i++) {
      await new Promise((r) => setTimeout(r, 50));
      live = await ok(client, 'runs.get', { runId: run.id });
    }
    process.kill(live.workerPid, 'SIGKILL');
    const crashed = await untilSettled(client, run.id);
    assert.equal(crashed.status, 'interrupted');
    assert.match(crashed.error.message, /ended unexpectedly/);
    assert.ok(crashed.iteration >= 50 && crashed.iteration % 50 === 0, `iteration ${crashed.iteration}`);
    await ok(client, 'runs.resume', { runId: run.id, iterations: crashed.iteration + 20 });
    const resumed = await untilSettled(client, run.id);
    assert.equal(resumed.status, 'complete', JSON.stringify(resumed.error));
    assert.equal(resumed.iteration, crashed.iteration + 20);

    // pause and cancel
    const second = await ok(client, 'runs.start', { datasetId: imported.dataset.id, settings: { ...settings, iterations: 200_000, checkpointEvery: 50 } });
    await new Promise((r) => setTimeout(r, 1500));
    await ok(client, 'runs.pause', { runId: second.id });
    const paused = await untilSettled(client, second.id);
    assert.equal(paused.status, 'paused');
    await ok(client, 'runs.cancel', { runId: second.id });
    assert.equal((await ok(client, 'runs.get', { runId: second.id })).status, 'cancelled');

    // a run folder made by `dg train` becomes a dataset and a run of the project
    const runDir = path.join(dir, 'cli-run');
    await startTraining({ data: { file: csv, options: { idColumn: 'line_id', timeColumn: 'hour' } }, runDir, iterations: 30, batchSize: 8, sampleLen: 4, engine: 'native' });
    const adopted = await ok(client, 'runs.importFolder', { projectId: project.id, path: runDir });
    assert.equal(adopted.status, 'complete');
    assert.equal(adopted.iteration, 30);
    const synthetic = await ok(client, 'runs.generate', { runId: adopted.id, n: 5 });
    assert.equal(synthetic.series, 5);
    const notARun = await client.call('runs.importFolder', { projectId: project.id, path: dir });
    assert.ok(!notARun.ok && notARun.error.code === 'not_found', JSON.stringify(notARun));
  } finally {
    await client.close();
  }
});

/** Starts `npm start -- --browser` on a free port with its own store; resolves with its URL and token. */
async function startApp(storeDir: string): Promise<{ child: ChildProcess; url: string; token: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'scripts', 'start.ts'), '--browser', '--port', '0', '--store', storeDir], {
    cwd: repo,
    env: { ...process.env, DG_NO_BROWSER: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`the app exited (${code}): ${out}${err}`)));
  });
  return { child, url, token: new URL(url).searchParams.get('token')! };
}

test('kill -9 of the server during training: the run shows interrupted, resumes, and ends as an uninterrupted resume of the same checkpoint', async () => {
  const { dir, csv } = await fixture();
  const storeDir = path.join(dir, 'store');
  const first = await startApp(storeDir);
  let client = await overHttp(first.url, first.token);
  const project = await ok(client, 'projects.create', { name: 'crash' });
  const imported = await ok(client, 'datasets.import', { projectId: project.id, path: await client.provide(csv), read: { idColumn: 'line_id', timeColumn: 'hour' } });
  const long = { ...settings, iterations: 200_000, checkpointEvery: 50 };
  const run = await ok(client, 'runs.start', { datasetId: imported.dataset.id, settings: long });
  const runDir = path.join(storeDir, 'projects', project.id, 'runs', run.id);
  // wait for a checkpoint past the first
  for (let i = 0; i < 600 && !((await ok(client, 'runs.get', { runId: run.id })).iteration >= 100); i++) await new Promise((r) => setTimeout(r, 100));
  await client.close();
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  // the orphaned worker notices its parent is gone, checkpoints and exits
  const lock = path.join(runDir, 'training.lock');
  const workerPid = fs.existsSync(lock) ? Number(fs.readFileSync(lock, 'utf8')) : 0;
  const alive = () => {
    try {
      if (workerPid > 0) process.kill(workerPid, 0);
      return workerPid > 0;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 300 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!alive(), 'the worker kept running after its server was killed');
  assert.ok(!fs.existsSync(lock), 'the worker left its lock behind');

  // the same checkpoint, resumed in-process without Json interruption: the reference result
  const reference = path.join(dir, 'reference-run');
  fs.cpSync(runDir, reference, { recursive: true });
  const stoppedAt = readCheckpoint(path.join(reference, RUN_FILES.checkpoint)).iteration;
  const target = stoppedAt + 120;
  await resumeTraining(reference, {}, { iterations: target });

  const second = await startApp(storeDir);
  client = await overHttp(second.url, second.token);
  try {
    const interrupted = await ok(client, 'runs.get', { runId: run.id });
    assert.equal(interrupted.status, 'interrupted');
    assert.equal(interrupted.iteration, stoppedAt);
    // the curve reaches that checkpoint too (the points the killed server never heard of come from the run folder)
    const curve = await ok<Json[]>(client, 'runs.progress', { runId: run.id });
    const last = curve.at(-1)?.iteration;
    assert.ok(last > stoppedAt - 3 && last <= stoppedAt, `curve ends at ${last}, checkpoint at ${stoppedAt}`);
    assert.ok(curve.every((p, k) => k === 0 || p.iteration > curve[k - 1].iteration));
    await ok(client, 'runs.resume', { runId: run.id, iterations: target });
    const done = await untilSettled(client, run.id);
    assert.equal(done.status, 'complete', JSON.stringify(done.error));
    assert.equal(done.iteration, target);
    const a = readCheckpoint(path.join(runDir, RUN_FILES.checkpoint)).engineState;
    const b = readCheckpoint(path.join(reference, RUN_FILES.checkpoint)).engineState;
    assert.equal(a.tensors.length, b.tensors.length);
    a.tensors.forEach((t, k) => assert.deepEqual(t.data, b.tensors[k].data, `tensor ${t.name} differs`));
    assert.deepEqual(a.counters, b.counters);
    assert.equal((await ok(client, 'audit.verify')).ok, true);
  } finally {
    await client.close();
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }
});

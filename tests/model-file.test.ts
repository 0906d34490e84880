/**
 * The shareable model file (dg export-model): it holds nothing that names or counts the training data,
 * generates on its own (CLI and API) exactly what the run folder generates with the same seed, and a
 * damaged file is refused with an error naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportModel } from '../core/api/model-export.ts';
import { createApiHost } from '../core/api/host.ts';
import { generateToFile } from '../core/api/generate.ts';
import { startTraining } from '../core/api/training.ts';
import { demoDataset } from '../core/data/demo.ts';
import { readDataset } from '../core/data/index.ts';
import { writeDataset } from '../core/export/index.ts';
import { MODEL_FILE_VERSION, readModelFile } from '../core/train/model-file.ts';
import { generateFromRun, loadEncoded, readRun, RUN_FILES } from '../core/train/run-folder.ts';
import { ApiError } from '../core/util/errors.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dgBin = path.join(repo, 'bin', 'dg.js');
const dg = (args: string[], cwd: string) => spawnSync(process.execPath, [dgBin, ...args], { cwd, encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dg-model-'));

const small = { lstmUnits: 12, criticHidden: [24, 24], auxCriticHidden: [16, 16], attributeHidden: [16], minMaxHidden: [16] };

/** A small trained run with a holdout, from a CSV (as a user's would be), and its model file. */
async function trainedRun() {
  const dir = tmp();
  const csv = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 30, length: 12, seed: 5 }), csv);
  const runDir = path.join(dir, 'run');
  await startTraining({
    data: { file: csv, options: { idColumn: 'line_id', timeColumn: 'hour' } },
    runDir,
    iterations: 12,
    batchSize: 8,
    sampleLen: 4,
    seed: 3,
    engine: 'native',
    holdoutFraction: 0.2,
    model: small,
  });
  const model = path.join(dir, 'model.dgm');
  exportModel({ runDir, out: model });
  return { dir, runDir, model };
}

const fixture = trainedRun();

test('the model file holds no series id, holdout list, count, loss or exposure figure, and no critic', async () => {
  const { runDir, model } = await fixture;
  const bytes = fs.readFileSync(model);
  const { info } = readRun(runDir);
  const trainIds = loadEncoded(path.join(runDir, RUN_FILES.train)).ids;
  const holdoutIds = loadEncoded(path.join(runDir, RUN_FILES.holdout)).ids;
  assert.equal(holdoutIds.length, 6);
  assert.deepEqual([...holdoutIds].sort(), [...info.holdoutIds].sort());
  for (const id of [...trainIds, ...holdoutIds]) assert.equal(bytes.indexOf(Buffer.from(id, 'utf8')), -1, `series id ${id} is in the model file`);
  const { header, tensors } = readModelFile(model);
  const text = JSON.stringify(header);
  for (const word of ['holdout', 'trainSeries', 'exposure', 'losses', 'critic"', 'runId', 'iteration', 'importReport', 'elapsed']) assert.ok(!text.includes(word), `the header mentions ${word}`);
  assert.ok(!/"(holdoutSeries|trainSeries|holdoutIds)"/.test(bytes.toString('latin1')));
  // only the generator: no critic weights, no Adam moments
  assert.ok(tensors.length > 0);
  assert.ok(
    tensors.every((t) => t.name.startsWith('gen.') && !t.name.includes('adam')),
    tensors.map((t) => t.name).join(),
  );
  // the id column is a bare name in the schema: no category list (which would be the ids)
  const idColumn = header.encoder.schema.columns.find((c) => c.role === 'id');
  assert.deepEqual(idColumn, { name: 'line_id', kind: idColumn?.kind, role: 'id' });
  assert.equal(header.privacy, undefined);
  assert.equal(header.version, MODEL_FILE_VERSION);
});

test('the model file alone generates, via the CLI and the API, what the run folder does with the same seed', async () => {
  const { runDir, model } = await fixture;
  const alone = tmp();
  fs.copyFileSync(model, path.join(alone, 'model.dgm'));

  const cli = dg(['generate', 'model.dgm', '-n', '9', '--seed', '4', '--engine', 'native', '--out', 'synthetic.csv'], alone);
  assert.equal(cli.status, 0, cli.stderr);
  const fromRunCli = dg(['generate', runDir, '-n', '9', '--seed', '4', '--engine', 'native', '--out', path.join(alone, 'from-run.csv')], alone);
  assert.equal(fromRunCli.status, 0, fromRunCli.stderr);
  assert.equal(fs.readFileSync(path.join(alone, 'synthetic.csv'), 'utf8'), fs.readFileSync(path.join(alone, 'from-run.csv'), 'utf8'));
  assert.match(fs.readFileSync(path.join(alone, 'synthetic.csv'), 'utf8'), /^line_id,hour,/);

  const fromFile = await generateFromRun({ runDir: path.join(alone, 'model.dgm'), n: 7, seed: 2, engine: 'native' });
  const fromRun = await generateFromRun({ runDir, n: 7, seed: 2, engine: 'native' });
  assert.deepEqual(fromFile.series, fromRun.series);
  // with no seed given, both use the run's seed + 1
  const defaults = [await generateFromRun({ runDir: path.join(alone, 'model.dgm'), n: 3, engine: 'native' }), await generateFromRun({ runDir, n: 3, engine: 'native' })];
  assert.deepEqual(defaults[0].series, defaults[1].series);

  const written = await generateToFile({ runDir: path.join(alone, 'model.dgm'), n: 5, seed: 1, engine: 'native', out: path.join(alone, 'api.parquet') });
  assert.equal(written.series, 5);
  assert.equal((await readDataset(path.join(alone, 'api.parquet'), { idColumn: 'line_id', timeColumn: 'hour' })).dataset.series.length, 5);
});

test('runs.exportModel writes the model into the project (or to a path) and records it; the file generates', async () => {
  const dir = tmp();
  const csv = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 24, length: 12, seed: 5 }), csv);
  const host = await createApiHost({ storeDir: path.join(dir, 'store') });
  try {
    const call = async (method: string, args: unknown) => {
      const outcome = await host.call(method, args);
      assert.ok(outcome.ok, `${method}: ${JSON.stringify(!outcome.ok && outcome.error)}`);
      return outcome.result as Record<string, never>;
    };
    const project = await call('projects.create', { name: 'lines' });
    const imported = (await call('datasets.import', { projectId: project.id, path: csv, read: { idColumn: 'line_id', timeColumn: 'hour' } })) as unknown as { dataset: { id: string } };
    const run = await call('runs.start', { datasetId: imported.dataset.id, settings: { iterations: 6, batchSize: 8, sampleLen: 4, engine: 'native' } });
    for (let i = 0; i < 600; i++) {
      const state = (await call('runs.get', { runId: run.id })) as unknown as { live: boolean; status: string };
      if (!state.live && state.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const saved = (await call('runs.exportModel', { runId: run.id })) as unknown as { path: string; format: string; sha256: string; bytes: number };
    assert.equal(saved.format, 'dgm');
    assert.equal(fs.statSync(saved.path).size, saved.bytes);
    const target = path.join(dir, 'shared.dgm');
    const direct = (await call('runs.exportModel', { runId: run.id, path: target })) as unknown as { path: string; sha256: string };
    assert.equal(direct.path, target);
    assert.match(direct.sha256, /^[0-9a-f]{64}$/);
    const generated = await generateFromRun({ runDir: target, n: 3, seed: 1, engine: 'native' });
    assert.equal(generated.series.length, 3);
    const audit = (await call('audit.list', { projectId: project.id })) as unknown as { action: string; details: { format?: string } }[];
    assert.equal(audit.filter((a) => a.action === 'export.add' && a.details.format === 'dgm').length, 2);
    const wrong = await host.call('runs.exportModel', { runId: run.id, path: path.join(dir, 'model.csv') });
    assert.ok(!wrong.ok && wrong.error.code === 'invalid_argument', JSON.stringify(wrong));
  } finally {
    await host.close();
  }
});

test("a DP-SGD run's model file carries its (epsilon, delta) and no data-derived boundary snaps", async () => {
  const dir = tmp();
  const runDir = path.join(dir, 'run');
  await startTraining({
    data: { dataset: demoDataset({ series: 60, length: 12, seed: 2 }), label: 'demo' },
    runDir,
    iterations: 4,
    batchSize: 30,
    sampleLen: 4,
    seed: 1,
    engine: 'native',
    model: small,
    dp: { epsilon: 8 },
  });
  const { checkpoint, info } = readRun(runDir);
  assert.equal(checkpoint.encoder.boundarySnap, undefined, 'a DP run keeps no boundary snap in its checkpoint either');
  const model = path.join(dir, 'dp.dgm');
  const written = exportModel({ runDir, out: model });
  const { header } = readModelFile(model);
  assert.equal(header.encoder.boundarySnap, undefined);
  assert.ok(
    header.privacy && Math.abs(header.privacy.epsilon - info.privacySpent!.epsilon) < 1e-9 && header.privacy.delta === info.privacySpent!.delta,
    JSON.stringify([header.privacy, info.privacySpent]),
  );
  assert.deepEqual(written.privacy, header.privacy);
  assert.equal((await generateFromRun({ runDir: model, n: 4, seed: 1, engine: 'native' })).series.length, 4);
});

test('a damaged, truncated or newer model file is refused with an error naming it', async () => {
  const { model } = await fixture;
  const dir = tmp();
  const good = fs.readFileSync(model);
  const refused = (bytes: Buffer, pattern: RegExp, code = 'data_error') => {
    const file = path.join(dir, `bad-${Math.random().toString(36).slice(2)}.dgm`);
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => readModelFile(file),
      (error: unknown) => {
        assert.ok(error instanceof ApiError, String(error));
        assert.equal(error.code, code);
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, pattern);
        assert.equal(error.where?.file, file);
        return true;
      },
    );
    return file;
  };
  refused(Buffer.from('PAR1 not a model at all'), /does not start with the model file magic/);
  refused(Buffer.alloc(0), /empty/);
  refused(good.subarray(0, 10), /truncated/);
  refused(good.subarray(0, 40), /truncated/);
  refused(good.subarray(0, good.length - 4), /truncated/);
  refused(Buffer.concat([good, Buffer.from([0, 0, 0, 0])]), /bytes after its last tensor/);
  const newer = Buffer.from(good);
  newer.writeUInt32LE(MODEL_FILE_VERSION + 1, 8);
  refused(newer, /newer version of the app/, 'unsupported');

  // the CLI says it too, naming the file, with exit status 1
  const truncated = refused(good.subarray(0, good.length - 4), /truncated/);
  const r = dg(['generate', truncated, '-n', '2', '--out', path.join(dir, 'x.csv')], dir);
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(truncated) && /truncated/.test(r.stderr), r.stderr);
  assert.ok(!fs.existsSync(path.join(dir, 'x.csv')));
});

test('dg export-model writes the file and says how to generate from it; bad arguments exit 2', async () => {
  const { runDir } = await fixture;
  const dir = tmp();
  const r = dg(['export-model', runDir, '--out', 'm.dgm'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /dg generate m\.dgm/);
  assert.equal(JSON.parse(r.stdout).file, path.join(fs.realpathSync(dir), 'm.dgm'));
  assert.equal(dg(['export-model', runDir], dir).status, 2);
  const wrongName = dg(['export-model', runDir, '--out', 'm.csv'], dir);
  assert.equal(wrongName.status, 2);
  assert.match(wrongName.stderr, /\.dgm/);
  const missing = dg(['export-model', path.join(dir, 'nope'), '--out', 'n.dgm'], dir);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope/);
});

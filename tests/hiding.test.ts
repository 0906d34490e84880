/**
 * Hiding attributes (core/privacy/hiding.ts, core/api/hiding.ts): drop and coarsen before training,
 * replace the distribution after it (a released attribute table), on the CLI and with clear errors. Real
 * native engine, short runs of a small model on the MBA fixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainSettings } from '../core/api/contract.ts';
import { createApiHost } from '../core/api/host.ts';
import { hideRun, readReleasedAttributes } from '../core/api/hiding.ts';
import { exportModel } from '../core/api/model-export.ts';
import { readModelFile } from '../core/train/model-file.ts';
import { resumeTraining, startTraining, type TrainRequest } from '../core/api/training.ts';
import { readDataset } from '../core/data/index.ts';
import type { ColumnSchema, Dataset } from '../core/data/types.ts';
import { checkHiding, resampleToTarget } from '../core/privacy/hiding.ts';
import { readCheckpoint } from '../core/train/checkpoint.ts';
import { generateFromRun, RUN_FILES, type RunInfo } from '../core/train/run-folder.ts';
import type { ApiError } from '../core/util/errors.ts';
import { Rng } from '../core/util/rng.ts';
import { mbaSplitFile } from './fixtures/mba.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dg = (args: string[]) => spawnSync(process.execPath, [path.join(repo, 'bin', 'dg.js'), ...args], { encoding: 'utf8' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dg-hide-'));

const MBA = mbaSplitFile('train');
const LAYOUT = { idColumn: 'series_id', timeColumn: 'step', attributes: ['isp', 'technology', 'state'], features: ['traffic_byte_counter', 'ping_loss_rate'] };
const LAYOUT_FLAGS = ['--id', 'series_id', '--time', 'step', '--attributes', 'isp,technology,state', '--features', 'traffic_byte_counter,ping_loss_rate'];
const small = { lstmUnits: 12, criticHidden: [24, 24], auxCriticHidden: [16, 16], attributeHidden: [32], minMaxHidden: [16] };

function request(runDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { data: { file: MBA, options: LAYOUT }, runDir, sampleLen: 8, iterations: 60, seed: 3, engine: 'native', holdoutFraction: 0, model: small, ...overrides };
}

const countsOf = (dataset: Dataset, attribute: string) => {
  const a = dataset.attributes.findIndex((c) => c.name === attribute);
  const counts = new Map<string, number>();
  for (const s of dataset.series) counts.set(String(s.attributes[a]), (counts.get(String(s.attributes[a])) ?? 0) + 1);
  return counts;
};

/** P(technology | isp) per isp, from a dataset. */
function conditional(dataset: Dataset): Map<string, { n: number; p: Map<string, number> }> {
  const isp = dataset.attributes.findIndex((c) => c.name === 'isp');
  const tech = dataset.attributes.findIndex((c) => c.name === 'technology');
  const out = new Map<string, { n: number; p: Map<string, number> }>();
  for (const s of dataset.series) {
    const entry = out.get(String(s.attributes[isp])) ?? { n: 0, p: new Map() };
    entry.n++;
    entry.p.set(String(s.attributes[tech]), (entry.p.get(String(s.attributes[tech])) ?? 0) + 1);
    out.set(String(s.attributes[isp]), entry);
  }
  return out;
}

test('coarsen merges the rare categories before training; replace makes generation follow a target table exactly and keeps the other attribute given it; seeded', async () => {
  const real = (await readDataset(MBA, LAYOUT)).dataset;
  const states = countsOf(real, 'state');
  const rare = [...states].filter(([, n]) => n < 10).map(([c]) => c);
  assert.ok(rare.length > 5 && rare.length < states.size - 5, 'the fixture has rare and common states');
  // Every isp but one, with weights 1, 2, 3, ...: whichever isps a briefly trained generator favours are in
  // the target, so the conditional of technology given isp can be compared below.
  const isps = [...countsOf(real, 'isp').keys()].filter((c) => c !== 'Hawaiian Telcom');
  const target = Object.fromEntries([...isps.map((c, k) => [c, k + 1]), ['Hawaiian Telcom', 0]]);
  const weightSum = (isps.length * (isps.length + 1)) / 2;
  const runDir = path.join(tmp(), 'run');
  const logs: string[] = [];
  const summary = await startTraining(
    request(runDir, {
      hide: [
        { attribute: 'state', mode: 'coarsen', minSeries: 10 },
        { attribute: 'isp', mode: 'replace', target },
      ],
    }),
    { onLog: (m) => logs.push(m) },
  );
  assert.equal(summary.status, 'complete');
  // coarsen: the model's categories are the common states and the merged label, recorded in run.json
  const { encoder } = readCheckpoint(path.join(runDir, RUN_FILES.checkpoint));
  const state = encoder.attributes.find((c) => c.name === 'state')!;
  assert.deepEqual(new Set(state.categories), new Set([...[...states.keys()].filter((c) => !rare.includes(c)), 'other (merged)']));
  const info = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.run), 'utf8')) as RunInfo;
  assert.deepEqual(new Set(info.hiding!.merged.state.categories), new Set(rare));
  assert.ok(logs.some((l) => /merged into 'other \(merged\)'/.test(l)));
  // replace: written at the end of training, recorded, without the learned marginal in the released file
  assert.ok(summary.released);
  assert.equal(info.hiding!.released?.attribute, 'isp');
  const table = readReleasedAttributes(runDir)!;
  assert.deepEqual(table.attributes, ['isp', 'technology', 'state']);
  assert.equal(table.rows.length, 20_000);
  assert.equal((table.hidden as { generatedShare?: unknown }).generatedShare, undefined);
  const generated = await generateFromRun({ runDir, n: 4000, seed: 5 });
  // Apportioned: each count is its exact share rounded down or up.
  const counts = countsOf(generated, 'isp');
  assert.deepEqual(new Set(counts.keys()), new Set(isps));
  isps.forEach((c, k) => assert.ok(Math.abs(counts.get(c)! - (4000 * (k + 1)) / weightSum) < 1, `${c}: ${counts.get(c)}`));
  assert.ok(generated.series.every((s) => state.categories!.includes(String(s.attributes[2]))));
  // seeded: the same seed gives the same series, another seed others
  const again = await generateFromRun({ runDir, n: 4000, seed: 5 });
  assert.deepEqual(
    again.series.map((s) => s.attributes),
    generated.series.map((s) => s.attributes),
  );
  assert.deepEqual([...(again.series[7].features[0] as Float64Array)], [...(generated.series[7].features[0] as Float64Array)]);
  const other = await generateFromRun({ runDir, n: 4000, seed: 6 });
  assert.notDeepEqual(
    other.series.map((s) => s.attributes),
    generated.series.map((s) => s.attributes),
  );
  // the shareable model carries the table instead of the attribute generator's weights, and generates the same
  const modelFile = path.join(tmp(), 'hidden.dgm');
  exportModel({ runDir, out: modelFile });
  const { header } = readModelFile(modelFile);
  assert.deepEqual(header.attributeTable?.rows.length, 20_000);
  assert.ok(!header.tensors.some((t) => t.name.startsWith('gen.attr.')), 'no attribute generator weights');
  assert.ok(header.tensors.some((t) => t.name.startsWith('gen.feat.')));
  assert.ok(!fs.readFileSync(modelFile).includes('generatedShare'), 'nothing of the learned marginal');
  const fromModel = await generateFromRun({ runDir: modelFile, n: 4000, seed: 5, engine: 'native' });
  assert.deepEqual(
    fromModel.series.map((s) => s.attributes),
    generated.series.map((s) => s.attributes),
  );
  assert.deepEqual([...(fromModel.series[7].features[0] as Float64Array)], [...(generated.series[7].features[0] as Float64Array)]);
  // the other attribute's conditional given isp: as the trained generator draws it (the table set aside)
  fs.renameSync(path.join(runDir, RUN_FILES.releasedAttributes), path.join(runDir, 'aside.json'));
  const learned = conditional(await generateFromRun({ runDir, n: 20_000, seed: 9 }));
  fs.renameSync(path.join(runDir, 'aside.json'), path.join(runDir, RUN_FILES.releasedAttributes));
  const hidden = conditional(await generateFromRun({ runDir, n: 20_000, seed: 9 }));
  let compared = 0;
  for (const [isp, { n, p }] of hidden) {
    const own = learned.get(isp);
    if (!own || own.n < 1000) continue;
    compared++;
    const techs = new Set([...p.keys(), ...own.p.keys()]);
    let tv = 0;
    for (const t of techs) tv += Math.abs((p.get(t) ?? 0) / n - (own.p.get(t) ?? 0) / own.n);
    assert.ok(tv / 2 < 0.06, `technology given isp ${isp}: total variation ${(tv / 2).toFixed(3)}`);
  }
  assert.ok(compared >= 1, 'at least one isp the generator draws often enough to compare');
});

test('dg train --drop-attribute / --hide-distribution, then dg hide --replace with a table file and dg generate: the round trip', () => {
  const dir = tmp();
  const runDir = path.join(dir, 'run');
  const train = dg([
    'train',
    MBA,
    ...LAYOUT_FLAGS,
    '--iterations',
    '20',
    '--sample-len',
    '8',
    '--engine',
    'native',
    '--holdout-fraction',
    '0',
    '--drop-attribute',
    'state',
    '--hide-distribution',
    'isp=uniform',
    '--out',
    runDir,
  ]);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stderr, /state dropped/);
  assert.match(train.stderr, /isp's learned distribution is hidden/);
  const { encoder } = readCheckpoint(path.join(runDir, RUN_FILES.checkpoint));
  assert.deepEqual(
    encoder.attributes.map((c) => c.name),
    ['isp', 'technology'],
  );
  const uniform = readReleasedAttributes(runDir)!;
  assert.equal(uniform.hidden.target, 'uniform');
  const isps = encoder.attributes[0].categories!;
  for (const c of isps) assert.ok(Math.abs(uniform.hidden.probabilities[c] - 1 / isps.length) < 1e-12);
  // generated output has no state column, and isp uniform
  const out = path.join(dir, 'uniform.csv');
  const gen = dg(['generate', runDir, '-n', String(isps.length * 50), '--seed', '1', '--out', out]);
  assert.equal(gen.status, 0, gen.stderr);
  const header = fs.readFileSync(out, 'utf8').split('\n')[0];
  assert.doesNotMatch(header, /state/);
  assert.match(header, /isp/);
  // a custodian's table, from a file
  const tableFile = path.join(dir, 'isp.csv');
  fs.writeFileSync(tableFile, 'isp,share\nWindstream,0.5\nCox,0.25\nAT&T,0.25\n');
  const hide = dg(['hide', runDir, '--replace', `isp=${tableFile}`, '--sample-rows', '5000']);
  assert.equal(hide.status, 0, hide.stderr);
  assert.deepEqual(JSON.parse(hide.stdout).target.Windstream, 0.5);
  const out2 = path.join(dir, 'table.csv');
  assert.equal(dg(['generate', runDir, '-n', '400', '--seed', '2', '--out', out2]).status, 0);
  return readDataset(out2, { idColumn: 'series_id', attributes: ['isp', 'technology'], features: ['traffic_byte_counter', 'ping_loss_rate'] }).then(({ dataset }) => {
    assert.deepEqual(Object.fromEntries(countsOf(dataset, 'isp')), { Windstream: 200, Cox: 100, 'AT&T': 100 });
  });
});

test('bad hiding specs are refused with what is wrong and what exists', async () => {
  const columns: ColumnSchema[] = [
    { name: 'isp', kind: 'categorical', role: 'attribute', categories: ['A', 'B'] },
    { name: 'speed', kind: 'continuous', role: 'attribute', min: 0, max: 1 },
  ];
  const refuses = (specs: Parameters<typeof checkHiding>[0], pattern: RegExp) =>
    assert.throws(
      () => checkHiding(specs, columns),
      (e: ApiError) => e.code === 'invalid_argument' && pattern.test(e.message) && e.hint?.option === 'hide',
    );
  refuses([{ attribute: 'ISP', mode: 'drop' }], /'ISP': it is not an attribute of this data \(attributes: isp, speed\)/);
  refuses([{ attribute: 'speed', mode: 'coarsen', minSeries: 5 }], /cannot coarsen 'speed': it is continuous/);
  refuses([{ attribute: 'speed', mode: 'replace', target: 'uniform' }], /cannot replace the distribution of 'speed': it is continuous/);
  refuses([{ attribute: 'isp', mode: 'replace', target: { A: 0, B: 0 } }], /sums to 0/);
  refuses([{ attribute: 'isp', mode: 'replace', target: { A: 1, C: 1 } }], /names 'C', which is not one of its categories \(A, B\)/);
  refuses([{ attribute: 'isp', mode: 'coarsen', minSeries: 1 }], /k >= 2/);
  refuses(
    [
      { attribute: 'isp', mode: 'drop' },
      { attribute: 'isp', mode: 'coarsen', minSeries: 3 },
    ],
    /hidden twice/,
  );
  // the contract says the same before anything runs
  const bad = trainSettings.safeParse({ hide: [{ attribute: 'isp', mode: 'replace', target: { A: 0 } }] });
  assert.ok(!bad.success && /sum to more than 0/.test(bad.error.issues[0].message));
  assert.ok(!trainSettings.safeParse({ hide: [{ attribute: 'isp', mode: 'hide' }] }).success);
  // a training request is refused before anything is written; dg hide names the unknown category
  const runDir = path.join(tmp(), 'run');
  await assert.rejects(startTraining(request(runDir, { hide: [{ attribute: 'provider', mode: 'drop' }] })), /'provider': it is not an attribute of this data \(attributes: isp, technology, state\)/);
  assert.equal(fs.existsSync(path.join(runDir, RUN_FILES.checkpoint)), false);
  const cli = dg(['train', MBA, ...LAYOUT_FLAGS, '--coarsen', 'state=x', '--out', runDir]);
  assert.equal(cli.status, 2);
  assert.match(cli.stderr, /--coarsen must be an integer >= 2/);
  const noRun = dg(['hide', runDir, '--replace', 'isp=uniform']);
  assert.notEqual(noRun.status, 0);
  await assert.rejects(hideRun({ runDir: path.join(os.tmpdir(), 'no-such-run-dg'), replace: { attribute: 'isp', mode: 'replace', target: 'uniform' } }), /no run folder/);
});

test('resampleToTarget: exact target counts; a category never generated is paired with the overall distribution and reported', () => {
  const sample = [
    ['A', 'x'],
    ['A', 'x'],
    ['B', 'y'],
  ];
  const table = resampleToTarget(sample, 0, { A: 0.25, B: 0.25, C: 0.5 }, 1000, new Rng(1));
  const counts = new Map<string, number>();
  for (const row of table.rows) counts.set(String(row[0]), (counts.get(String(row[0])) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { A: 250, B: 250, C: 500 });
  assert.ok(table.rows.filter((r) => r[0] === 'A').every((r) => r[1] === 'x'));
  assert.ok(table.rows.filter((r) => r[0] === 'B').every((r) => r[1] === 'y'));
  const cx = table.rows.filter((r) => r[0] === 'C' && r[1] === 'x').length;
  assert.ok(cx > 280 && cx < 390, `C's other attribute from the overall sample (2/3 x): ${cx}`);
  assert.deepEqual(table.unseen, ['C']);
  assert.deepEqual(table.generatedShare, { A: 2 / 3, B: 1 / 3, C: 0 });
});

test('the app: the plan offers every attribute with its category counts and says what hiding does; a bad spec names the setting; a run through the worker hides', async () => {
  const host = await createApiHost({ storeDir: path.join(tmp(), 'store') });
  try {
    // biome-ignore lint/suspicious/noExplicitAny: results are checked field by field
    const call = async (method: string, args: unknown): Promise<any> => {
      const outcome = await host.call(method, args);
      if (!outcome.ok) throw Object.assign(new Error(outcome.error.message), outcome.error);
      return outcome.result;
    };
    const project = await call('projects.create', { name: 'mba' });
    const { dataset } = await call('datasets.import', { projectId: project.id, path: MBA, read: LAYOUT });
    const base = { iterations: 20, sampleLen: 8, engine: 'native', holdoutFraction: 0, model: small };
    const plan = await call('training.plan', { datasetId: dataset.id, settings: { ...base, hide: [{ attribute: 'state', mode: 'coarsen', minSeries: 3 }] }, calibrate: false });
    assert.deepEqual(
      plan.hiding.attributes.map((a: { name: string }) => a.name),
      ['isp', 'technology', 'state'],
    );
    assert.equal(plan.hiding.attributes[0].categories[0].label, 'Windstream');
    assert.ok(plan.hiding.attributes[0].categories[0].series > 100);
    assert.ok(plan.hiding.merged.state.categories.length > 0);
    assert.ok(plan.notes.some((n: string) => /merged into 'other \(merged\)'/.test(n)));
    await assert.rejects(
      call('training.plan', { datasetId: dataset.id, settings: { ...base, hide: [{ attribute: 'isp', mode: 'replace', target: { Comcast: 1 } }] }, calibrate: false }),
      (e: ApiError) => /names 'Comcast', which is not one of its categories \(.*Windstream/.test(e.message) && e.hint?.option === 'hide',
    );
    const run = await call('runs.start', { datasetId: dataset.id, settings: { ...base, hide: [{ attribute: 'isp', mode: 'replace', target: 'uniform' }] } });
    for (let i = 0; i < 600; i++) {
      const r = await call('runs.get', { runId: run.id });
      if (!r.live && r.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const done = await call('runs.get', { runId: run.id });
    assert.equal(done.status, 'complete', JSON.stringify(done.error));
    const runDir = path.join(host.service.store.resolve(project.id, done.runDir));
    assert.equal(readReleasedAttributes(runDir)?.hidden.target, 'uniform');
  } finally {
    await host.close();
  }
});

test('a run stopped before its end gets its released table when resumed to the end; a run lengthened draws it again from the changed generator', async () => {
  const runDir = path.join(tmp(), 'run');
  const controller = new AbortController();
  const stopped = await startTraining(request(runDir, { iterations: 40, checkpointEvery: 10, hide: [{ attribute: 'isp', mode: 'replace', target: 'uniform' }] }), {
    signal: controller.signal,
    afterCheckpoint: (iteration) => {
      if (iteration >= 10) controller.abort();
    },
  });
  assert.equal(stopped.status, 'cancelled');
  assert.equal(readReleasedAttributes(runDir), null, 'no table from a generator still training');
  const done = await resumeTraining(runDir);
  assert.equal(done.status, 'complete');
  const first = readReleasedAttributes(runDir)!;
  assert.equal(first.hidden.target, 'uniform');
  // found complete: the table stays as it is
  await resumeTraining(runDir);
  assert.equal(readReleasedAttributes(runDir)!.createdAt, first.createdAt);
  // lengthened: the attribute generator changed, so its draws are taken again
  await resumeTraining(runDir, {}, { iterations: 60 });
  const again = readReleasedAttributes(runDir)!;
  assert.notEqual(again.createdAt, first.createdAt);
  assert.notDeepEqual(again.rows.slice(0, 50), first.rows.slice(0, 50));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE, defaultStoreDir, LATEST_VERSION, LOCK_FILE, MIGRATIONS, sha256File, Store, StoreError } from '../core/store/index.ts';
import { migrate } from '../core/store/migrations.ts';

const dirs: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-store-'));
  dirs.push(dir);
  return dir;
};
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const fileHash = (file: string) => sha256Bytes(fs.readFileSync(file));
const sha256Bytes = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function storeError(code: StoreError['code'], pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** A store with one project, dataset (two schema versions) and run. */
function seeded(dir = tmp()) {
  const store = Store.open(dir, { actor: 'test' });
  const project = store.createProject({ name: 'Broadband', description: 'MBA lines' });
  const dataset = store.addDataset(project.id, {
    name: 'mba',
    sourceFile: '/home/me/mba.csv',
    copyFile: 'datasets/mba.parquet',
    sha256: sha('mba'),
    bytes: 1234,
    rows: 5600,
    series: 100,
  });
  const v1 = store.saveSchema(dataset.id, { id: 'line_id', features: ['traffic'] }, 'inferred');
  const v2 = store.saveSchema(dataset.id, { id: 'line_id', features: ['traffic', 'loss'] }, 'edited');
  const run = store.createRun(project.id, { datasetId: dataset.id, schemaVersion: v2, settings: { iterations: 100, dp: { epsilon: 4 } } });
  return { dir, store, project, dataset, run, versions: [v1, v2] };
}

/** A raw connection, the way another program (or an attacker with file access) would open the file. */
const raw = (dir: string) => new Database(path.join(dir, DB_FILE));

test('migrations are numbered 1..N and the newest is what a fresh store gets', () => {
  assert.deepEqual(
    MIGRATIONS.map((m) => m.version),
    MIGRATIONS.map((_, i) => i + 1),
  );
  const { store } = seeded();
  assert.equal(store.schemaVersion, LATEST_VERSION);
  assert.equal(LATEST_VERSION, 2);
  store.close();
});

test('records round-trip across close and reopen', () => {
  const { dir, store, project, dataset, run } = seeded();
  assert.ok(fs.statSync(store.projectDir(project.id)).isDirectory(), 'the project folder is created');
  const updated = store.updateRun(run.id, { status: 'running', engine: 'native', totalIterations: 100, workerPid: 4242, plan: { iterations: 100, sampleLen: 10 } });
  assert.equal(updated.status, 'running');
  store.updateRun(run.id, { iteration: 100, workerPid: null });
  store.updateRun(run.id, { status: 'complete', summary: { losses: { d: -0.1 }, epsilon: 3.9, exposure: 0.52 } });
  const synthetic = store.addSyntheticSet(run.id, { file: 'synthetic/a.parquet', sha256: sha('a'), series: 1000, seed: 7 });
  const evaluation = store.addEvaluation(run.id, { syntheticId: synthetic.id, dir: 'eval/a', summary: { verdict: 'good' } });
  const review = store.addPrivacyReview(run.id, { evaluationId: evaluation.id, file: 'eval/a/privacy.json', summary: { memberAuc: 0.52 } });
  const exported = store.addExport(run.id, { syntheticId: synthetic.id, file: '/home/me/share.csv', format: 'csv', sha256: sha('csv'), bytes: 99, settings: { layout: 'long' } });
  store.close();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'close removes the lock');

  const again = Store.open(dir);
  const [listed] = again.listProjects();
  assert.deepEqual(listed, { ...project, datasets: 1, runs: 1, latestRunStatus: 'complete' });
  assert.deepEqual(again.getProject(project.id), listed);
  assert.deepEqual(again.getDataset(dataset.id), dataset);
  assert.deepEqual(again.listDatasets(project.id), [dataset]);
  assert.deepEqual(
    again.listSchemas(dataset.id).map((s) => [s.version, s.origin]),
    [
      [1, 'inferred'],
      [2, 'edited'],
    ],
  );
  assert.deepEqual(again.getSchema(dataset.id).schema, { id: 'line_id', features: ['traffic', 'loss'] });
  assert.deepEqual(again.getSchema(dataset.id, 1).schema, { id: 'line_id', features: ['traffic'] });
  const got = again.getRun(run.id);
  assert.equal(got.status, 'complete');
  assert.equal(got.iteration, 100);
  assert.equal(got.workerPid, null);
  assert.equal(got.engine, 'native');
  assert.equal(got.runDir, `runs/${run.id}`);
  assert.deepEqual(got.settings, { iterations: 100, dp: { epsilon: 4 } });
  assert.deepEqual(got.plan, { iterations: 100, sampleLen: 10 });
  assert.deepEqual(got.summary, { losses: { d: -0.1 }, epsilon: 3.9, exposure: 0.52 });
  assert.deepEqual(again.listRuns(project.id), [got]);
  assert.deepEqual(again.listSyntheticSets(run.id), [synthetic]);
  assert.deepEqual(again.getEvaluation(evaluation.id), evaluation);
  assert.deepEqual(again.listEvaluations(run.id), [evaluation]);
  assert.deepEqual(again.getPrivacyReview(review.id), review);
  assert.deepEqual(again.listPrivacyReviews(run.id), [review]);
  assert.deepEqual(again.listExports(run.id), [exported]);
  assert.throws(() => again.getRun('nope'), storeError('not_found', /run nope/));
  assert.throws(() => again.createProject({ name: 'Broadband' }), storeError('conflict', /a project named "Broadband" already exists/));
  assert.throws(() => again.updateRun(run.id, { status: 'paused' }), storeError('conflict', /complete; it cannot become paused/));

  const actions = again
    .listAudit({ projectId: project.id })
    .map((a) => a.action)
    .reverse();
  assert.deepEqual(actions, [
    'project.create',
    'dataset.add',
    'schema.save',
    'schema.save',
    'run.create',
    'run.status',
    'run.status',
    'synthetic.add',
    'evaluation.add',
    'privacy_review.add',
    'export.add',
  ]);
  assert.equal(again.listAudit({ limit: 1 })[0].action, 'export.add');
  assert.equal(again.listAudit({ projectId: project.id })[0].actor, 'test');
  assert.deepEqual(again.verifyAudit(), { ok: true, rows: 13 }); // 2 migrations + 11 actions
  again.close();
});

test('a version-1 database (checked-in dump) is migrated to the newest version with its data intact', () => {
  const dir = tmp();
  const v1 = raw(dir);
  v1.exec(fs.readFileSync(new URL('./fixtures/store-v1.sql', import.meta.url), 'utf8'));
  assert.equal(v1.pragma('user_version', { simple: true }), 1);
  v1.close();

  // Migration 1 as it is now makes exactly the dump's schema: a shipped migration was not edited.
  const fresh = new Database(':memory:');
  migrate(fresh, 1);
  const dumped = new Database(path.join(dir, DB_FILE), { readonly: true });
  const schema = (db: Database.Database) => db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all();
  assert.deepEqual(schema(fresh), schema(dumped));
  fresh.close();
  dumped.close();

  const store = Store.open(dir, { actor: 'upgrader' });
  assert.equal(store.schemaVersion, 2);
  const [project] = store.listProjects();
  assert.deepEqual(project, {
    id: '11111111-1111-4111-8111-111111111111',
    name: 'Broadband',
    description: 'v1 fixture',
    createdAt: '2025-01-02T03:04:01.000Z',
    datasets: 1,
    runs: 1,
    latestRunStatus: 'running',
  });
  const runId = '33333333-3333-4333-8333-333333333333';
  const run = store.getRun(runId);
  assert.equal(run.iteration, 40);
  assert.deepEqual(run.plan, { iterations: 100, sampleLen: 10 });
  assert.deepEqual(store.getSchema(run.datasetId).schema, { id: 'line_id', time: 'hour', features: ['traffic'] });
  assert.deepEqual(
    store.listProgressSamples(runId).map((s) => [s.iteration, s.losses.g, s.exposure, s.examplesPerSecond]),
    [
      [10, 0.25, 0.5, null],
      [20, 0.125, 0.55, null],
    ],
  );
  assert.deepEqual(store.listEvaluations(runId)[0].summary, { verdict: 'good' });
  assert.deepEqual(store.listPrivacyReviews(runId)[0].summary, { memberAuc: 0.52 });
  // What migration 2 added works: the exports table and the new progress column.
  const [synthetic] = store.listSyntheticSets(runId);
  store.addExport(runId, { syntheticId: synthetic.id, file: 'exports/a.csv', format: 'csv', sha256: sha('x'), bytes: 1, settings: {} });
  store.addProgressSamples(runId, [{ iteration: 30, elapsedSeconds: 4.5, losses: { g: 0.1 }, examplesPerSecond: 800 }]);
  assert.equal(store.listProgressSamples(runId, { after: 20 })[0].examplesPerSecond, 800);
  // The chain written by the v1 code continues through the migration's own audit row.
  const [migration] = store.listAudit({ limit: 2 }).filter((a) => a.action === 'store.migrate');
  assert.deepEqual([migration.actor, (migration.details as { version: number }).version], ['upgrader', 2]);
  assert.deepEqual(store.verifyAudit(), { ok: true, rows: 11 });
  store.close();
});

test('a database from a newer version is refused and left untouched', () => {
  const { dir, store } = seeded();
  store.close();
  const db = raw(dir);
  db.pragma('user_version = 99');
  db.close();
  const file = path.join(dir, DB_FILE);
  const before = fileHash(file);
  assert.throws(() => Store.open(dir), storeError('store_too_new', /schema version 99\) was written by a newer version of DoppelGANger Studio \(this one reads up to 2\)/));
  assert.equal(fileHash(file), before);
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'a refused open releases the lock');
});

test('a file that is not a database is reported as corrupt', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, DB_FILE), 'this is not sqlite, just a text file that is long enough to have a header....');
  assert.throws(() => Store.open(dir), storeError('corrupt', /not a readable DoppelGANger Studio store/));
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
});

test('foreign keys are enforced, and deleting a project cascades', () => {
  const { dir, store, project, dataset, run } = seeded();
  // Through the store: nothing checks the run before the insert, the foreign key does.
  assert.throws(() => store.addProgressSamples('no-such-run', [{ iteration: 1, elapsedSeconds: 1, losses: {} }]), storeError('not_found'));
  assert.throws(() => store.createRun(project.id, { datasetId: dataset.id, schemaVersion: 7, settings: {} }), storeError('not_found', /schema version 7/));
  store.addProgressSamples(run.id, [{ iteration: 1, elapsedSeconds: 1, losses: { g: 1 } }]);
  store.close();

  const db = raw(dir);
  db.pragma('foreign_keys = ON');
  assert.throws(() => db.prepare("INSERT INTO datasets VALUES ('d2', 'nope', 'x', 'x', 'x', ?, 1, 1, 1, 'now')").run(sha('x')), /FOREIGN KEY constraint failed/);
  db.prepare('DELETE FROM projects WHERE id = ?').run(project.id);
  for (const table of ['datasets', 'schemas', 'runs', 'progress_samples'])
    assert.equal((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n, 0, `${table} emptied by the cascade`);
  db.close();
});

test('STRICT tables reject a value of the wrong type', () => {
  const { dir, store, run } = seeded();
  assert.throws(() => store.addProgressSamples(run.id, [{ iteration: 1, elapsedSeconds: 'soon' as unknown as number, losses: {} }]), storeError('invalid', /cannot store TEXT value in REAL column/));
  assert.deepEqual(store.listProgressSamples(run.id), []);
  store.close();
  const db = raw(dir);
  assert.throws(() => db.prepare("UPDATE datasets SET bytes = 'lots'").run(), /cannot store TEXT value in INTEGER column datasets.bytes/);
  assert.throws(() => db.prepare("UPDATE runs SET settings_json = '{not json'").run(), /CHECK constraint failed/);
  db.close();
});

test('a change and its audit row commit together or not at all', () => {
  const { dir, store } = seeded();
  const auditRows = store.listAudit().length;
  const folders = fs.readdirSync(path.join(dir, 'projects'));
  // Make the audit insert fail after the project row is inserted, from outside the store.
  const db = raw(dir);
  db.exec("CREATE TRIGGER fail_project_audit BEFORE INSERT ON audit_log WHEN NEW.action = 'project.create' BEGIN SELECT RAISE(ABORT, 'audit disk full'); END");
  assert.throws(() => store.createProject({ name: 'Doomed' }), /audit disk full/);
  assert.ok(!store.listProjects().some((p) => p.name === 'Doomed'), 'the project row was rolled back');
  assert.equal(store.listAudit().length, auditRows);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'projects')), folders);
  db.exec('DROP TRIGGER fail_project_audit');
  db.close();
  assert.equal(store.createProject({ name: 'Doomed' }).name, 'Doomed');
  assert.equal(store.verifyAudit().ok, true);
  store.close();
});

test('the audit log is append-only through SQL, and its hash chain finds rows edited or removed behind its back', () => {
  const { dir, store } = seeded();
  const rows = store.listAudit().length;
  assert.deepEqual(store.verifyAudit(), { ok: true, rows });
  const db = raw(dir);
  assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").run(), /audit log is append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log WHERE seq = 3').run(), /audit log is append-only/);
  assert.deepEqual(store.verifyAudit(), { ok: true, rows });

  // An attacker with the file drops the triggers and edits a row.
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete');
  const original = db.prepare('SELECT actor FROM audit_log WHERE seq = 3').get() as { actor: string };
  db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").run();
  const edited = store.verifyAudit();
  assert.equal(edited.ok, false);
  assert.ok(!edited.ok && edited.brokenAt === 3 && /changed after it was written/.test(edited.reason), JSON.stringify(edited));
  assert.equal(edited.rows, rows);

  // Rehashing the edited row does not help: the next row no longer links to it.
  const row = db.prepare('SELECT * FROM audit_log WHERE seq = 3').get() as Record<string, unknown>;
  const { hash: _old, prev_hash, ...fields } = row;
  const canonical = `{${Object.keys(fields)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(fields[k])}`)
    .join(',')}}`;
  db.prepare('UPDATE audit_log SET hash = ? WHERE seq = 3').run(sha(String(prev_hash) + canonical));
  const rehashed = store.verifyAudit();
  assert.ok(!rehashed.ok && rehashed.brokenAt === 4 && /does not link/.test(rehashed.reason), JSON.stringify(rehashed));

  // Put the row back: the chain verifies again; then remove one.
  db.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 3').run(original.actor, _old);
  assert.deepEqual(store.verifyAudit(), { ok: true, rows });
  db.prepare('DELETE FROM audit_log WHERE seq = 5').run();
  const removed = store.verifyAudit();
  assert.ok(!removed.ok && removed.brokenAt === 6, JSON.stringify(removed));
  db.close();
  store.close();
});

test('markInterrupted turns running runs into interrupted ones; paused runs stay paused (their worker exited after a checkpoint)', () => {
  const { store, project, dataset, run, versions } = seeded();
  const make = () => store.createRun(project.id, { datasetId: dataset.id, schemaVersion: versions[0], settings: {} });
  const paused = make();
  const done = make();
  const planned = make();
  store.updateRun(run.id, { status: 'running', workerPid: 123 });
  store.updateRun(paused.id, { status: 'running' });
  store.updateRun(paused.id, { status: 'paused' });
  store.updateRun(done.id, { status: 'running' });
  store.updateRun(done.id, { status: 'complete' });
  assert.deepEqual(store.markInterrupted({ actor: 'server' }), [run.id]);
  assert.equal(store.getRun(run.id).status, 'interrupted');
  assert.equal(store.getRun(run.id).workerPid, null);
  assert.equal(store.getRun(paused.id).status, 'paused');
  assert.equal(store.getRun(done.id).status, 'complete');
  assert.equal(store.getRun(planned.id).status, 'planned');
  assert.deepEqual(store.markInterrupted(), []);
  const audit = store.listAudit({ subjectId: run.id })[0];
  assert.deepEqual([audit.action, audit.actor, (audit.details as { status: unknown }).status], ['run.status', 'server', { from: 'running', to: 'interrupted' }]);
  // An interrupted run can be resumed.
  assert.equal(store.updateRun(run.id, { status: 'running' }).status, 'running');
  store.close();
});

test('progress samples: a resumed run that redoes iterations replaces them', () => {
  const { store, run } = seeded();
  const sample = (iteration: number, g: number) => ({ iteration, elapsedSeconds: iteration / 10, losses: { g, d: -g }, epsilon: iteration / 100, exposure: 0.5, examplesPerSecond: 1000 });
  assert.equal(
    store.addProgressSamples(
      run.id,
      [1, 2, 3].map((i) => sample(i, 1)),
    ),
    3,
  );
  store.addProgressSamples(
    run.id,
    [2, 3, 4].map((i) => sample(i, 2)),
  );
  const samples = store.listProgressSamples(run.id);
  assert.deepEqual(
    samples.map((s) => [s.iteration, s.losses.g]),
    [
      [1, 1],
      [2, 2],
      [3, 2],
      [4, 2],
    ],
  );
  assert.deepEqual(samples[0], { runId: run.id, ...sample(1, 1) });
  assert.deepEqual(
    store.listProgressSamples(run.id, { after: 2 }).map((s) => s.iteration),
    [3, 4],
  );
  // One transaction: a bad sample leaves none of the batch.
  assert.throws(() => store.addProgressSamples(run.id, [sample(5, 3), { ...sample(6, 3), iteration: -1 }]), storeError('invalid'));
  assert.equal(store.listProgressSamples(run.id).length, 4);
  store.close();
});

test('paths stay inside the project folder', () => {
  const { store, project } = seeded();
  const base = store.projectDir(project.id);
  assert.equal(store.resolve(project.id, 'runs/a/checkpoint.bin'), path.join(base, 'runs', 'a', 'checkpoint.bin'));
  for (const bad of ['../x', 'a/../../x', '/etc/passwd', '', '.', 'a/..']) assert.throws(() => store.resolve(project.id, bad), storeError('invalid'), `accepted ${JSON.stringify(bad)}`);
  assert.throws(() => store.projectDir('../other'), storeError('invalid'));
  const other = seeded();
  assert.throws(() => store.addDataset(project.id, { ...other.dataset, name: 'escape', copyFile: '../../studio.db' }), storeError('invalid', /leaves the project folder/));
  other.store.close();
  store.close();
});

test('one process per store: a live holder is refused, a stale lock is taken over', async () => {
  const { dir, store } = seeded();
  assert.throws(() => Store.open(dir), storeError('conflict', new RegExp(`pid ${process.pid}`)));
  store.close();

  // A lock left by a process that no longer exists (kill -9).
  let dead = 999999;
  const exists = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  };
  while (exists(dead)) dead++;
  fs.writeFileSync(path.join(dir, LOCK_FILE), `${dead}\n`);
  const reopened = Store.open(dir);
  assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
  assert.equal(reopened.listProjects().length, 1);
  reopened.close();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));

  // A lock held by another live process.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${child.pid}\n`);
    assert.throws(() => Store.open(dir), storeError('conflict', new RegExp(`in use by another DoppelGANger Studio process \\(pid ${child.pid}\\)`)));
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim(), String(child.pid), "the other process's lock is left alone");
  } finally {
    child.kill();
  }
});

test('writeArtifact writes atomically and returns the SHA-256 of what it wrote', async () => {
  const { store, project } = seeded();
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) % 251);
  const written = await store.writeArtifact(project.id, 'datasets/copy.parquet', bytes);
  assert.equal(written.sha256, sha256Bytes(bytes));
  assert.equal(written.bytes, bytes.byteLength);
  assert.equal(written.relative, 'datasets/copy.parquet');
  assert.equal(written.path, store.resolve(project.id, 'datasets/copy.parquet'));
  assert.deepEqual(new Uint8Array(fs.readFileSync(written.path)), bytes);
  assert.equal(await sha256File(written.path), written.sha256);

  // A writer that wants a path (as a Parquet writer does).
  const viaPath = await store.writeArtifact(project.id, 'synthetic/a.csv', async (temporary) => {
    assert.notEqual(temporary, store.resolve(project.id, 'synthetic/a.csv'));
    fs.writeFileSync(temporary, 'a,b\n1,2\n');
  });
  assert.equal(viaPath.sha256, sha('a,b\n1,2\n'));
  assert.equal(fs.readFileSync(viaPath.path, 'utf8'), 'a,b\n1,2\n');

  // A writer that fails leaves the previous file as it was and no temporary file.
  await assert.rejects(
    store.writeArtifact(project.id, 'synthetic/a.csv', async (temporary) => {
      fs.writeFileSync(temporary, 'half');
      throw new Error('writer failed');
    }),
    /writer failed/,
  );
  assert.equal(fs.readFileSync(viaPath.path, 'utf8'), 'a,b\n1,2\n');
  for (const folder of ['datasets', 'synthetic'])
    assert.deepEqual(
      fs.readdirSync(store.resolve(project.id, folder)).filter((f) => f.includes('.tmp')),
      [],
      `temporary files left in ${folder}`,
    );
  await assert.rejects(store.writeArtifact(project.id, '../escape.bin', bytes), storeError('invalid'));
  store.close();
});

test('defaultStoreDir follows DG_STORE_DIR, then the platform convention', () => {
  const home = '/home/me';
  assert.equal(defaultStoreDir({ DG_STORE_DIR: '/data/dg' }, 'linux', home), '/data/dg');
  assert.equal(defaultStoreDir({}, 'linux', home), '/home/me/.local/share/doppelganger-studio');
  assert.equal(defaultStoreDir({ XDG_DATA_HOME: '/xdg' }, 'linux', home), '/xdg/doppelganger-studio');
  assert.equal(defaultStoreDir({}, 'darwin', home), '/home/me/Library/Application Support/DoppelGANger Studio');
  assert.equal(defaultStoreDir({ APPDATA: '/roaming' }, 'win32', home), path.join('/roaming', 'DoppelGANger Studio'));
});

/**
 * The project store: one SQLite database (`studio.db`) for metadata and the audit log, project folders
 * (`projects/<id>/`) for artifacts (datasets, checkpoints, generated data) as files. Every mutating method
 * writes its audit row in the transaction of the change it records. One process at a time (studio.lock).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type AuditEntry, type AuditRow, appendAudit, canonicalJson, toAuditRecord, verifyAuditChain } from './audit.ts';
import { StoreError } from './errors.ts';
import { acquireLock, LockRefused, releaseLock } from '../util/lock-file.ts';
import { LATEST_VERSION, migrate, schemaVersion } from './migrations.ts';
import { type ArtifactInfo, checkId, DB_FILE, LOCK_FILE, PROJECTS_DIR, resolveInside, writeArtifactFile } from './paths.ts';
import {
  type ActorOptions,
  type AuditRecord,
  type AuditVerification,
  type DatasetRecord,
  type EvaluationRecord,
  type ExportRecord,
  type NewDataset,
  type NewEvaluation,
  type NewExport,
  type NewPrivacyReview,
  type NewProject,
  type NewRun,
  type NewSyntheticSet,
  type PrivacyReviewRecord,
  type ProgressSample,
  type ProgressSampleRecord,
  type ProjectSummary,
  RUN_STATUSES,
  RUN_TRANSITIONS,
  type RunPatch,
  type RunRecord,
  type RunStatus,
  type SchemaOrigin,
  type SchemaRecord,
  type SyntheticSetRecord,
} from './types.ts';

export interface StoreOptions {
  /** Who the audit log names when a call gives no actor; default the OS user name. */
  actor?: string;
  /** How long a statement waits for a lock held by another connection; default 5000 ms. */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

function osUser(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

const now = () => new Date().toISOString();

function json(value: unknown): string {
  return canonicalJson(value);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined || value === null ? null : canonicalJson(value);
}

function parse(text: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : null;
}

function sqliteCode(error: unknown): string | undefined {
  return error instanceof Database.SqliteError ? error.code : undefined;
}

function corrupt(file: string, error: unknown): StoreError {
  return new StoreError(
    'corrupt',
    `${file} is not a readable DoppelGANger Studio store (${(error as Error).message}): restore it from a backup, or open another store folder`,
    { file },
    { cause: error },
  );
}

function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new StoreError('invalid', `${what} must be a non-empty string`);
  return value;
}

function requireCount(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new StoreError('invalid', `${what} must be a whole number >= 0, not ${String(value)}`);
  return value as number;
}

function requireSha(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw new StoreError('invalid', `${what} must be a SHA-256 in hex (64 characters)`);
  return value;
}

const toProject = (r: Row): ProjectSummary => ({
  id: r.id as string,
  name: r.name as string,
  description: r.description as string,
  createdAt: r.created_at as string,
  datasets: r.dataset_count as number,
  runs: r.run_count as number,
  latestRunStatus: (r.latest_status as RunStatus | null) ?? null,
});

const toDataset = (r: Row): DatasetRecord => ({
  id: r.id as string,
  projectId: r.project_id as string,
  name: r.name as string,
  sourceFile: r.source_file as string,
  copyFile: r.copy_file as string,
  sha256: r.sha256 as string,
  bytes: r.bytes as number,
  rows: r.rows as number,
  series: r.series as number,
  createdAt: r.created_at as string,
});

const toSchema = (r: Row): SchemaRecord => ({
  datasetId: r.dataset_id as string,
  version: r.version as number,
  schema: parse(r.schema_json),
  origin: r.origin as SchemaOrigin,
  createdAt: r.created_at as string,
});

const toRun = (r: Row): RunRecord => ({
  id: r.id as string,
  projectId: r.project_id as string,
  datasetId: r.dataset_id as string,
  schemaVersion: r.schema_version as number,
  settings: parse(r.settings_json),
  plan: parse(r.plan_json),
  status: r.status as RunStatus,
  engine: (r.engine as string | null) ?? null,
  iteration: r.iteration as number,
  totalIterations: (r.total_iterations as number | null) ?? null,
  runDir: r.run_dir as string,
  workerPid: (r.worker_pid as number | null) ?? null,
  error: parse(r.error_json),
  summary: parse(r.summary_json),
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});

const toSample = (r: Row): ProgressSampleRecord => ({
  runId: r.run_id as string,
  iteration: r.iteration as number,
  elapsedSeconds: r.elapsed_seconds as number,
  losses: parse(r.losses_json) as Record<string, number>,
  epsilon: (r.epsilon as number | null) ?? null,
  exposure: (r.exposure as number | null) ?? null,
  examplesPerSecond: (r.examples_per_second as number | null) ?? null,
});

const toSynthetic = (r: Row): SyntheticSetRecord => ({
  id: r.id as string,
  runId: r.run_id as string,
  file: r.file as string,
  sha256: r.sha256 as string,
  series: r.series as number,
  seed: r.seed as number,
  createdAt: r.created_at as string,
});

const toEvaluation = (r: Row): EvaluationRecord => ({
  id: r.id as string,
  runId: r.run_id as string,
  syntheticId: (r.synthetic_id as string | null) ?? null,
  dir: r.dir as string,
  summary: parse(r.summary_json),
  createdAt: r.created_at as string,
});

const toReview = (r: Row): PrivacyReviewRecord => ({
  id: r.id as string,
  runId: r.run_id as string,
  evaluationId: (r.evaluation_id as string | null) ?? null,
  file: r.file as string,
  summary: parse(r.summary_json),
  createdAt: r.created_at as string,
});

const toExport = (r: Row): ExportRecord => ({
  id: r.id as string,
  runId: r.run_id as string,
  syntheticId: (r.synthetic_id as string | null) ?? null,
  file: r.file as string,
  format: r.format as string,
  sha256: r.sha256 as string,
  bytes: r.bytes as number,
  settings: parse(r.settings_json),
  createdAt: r.created_at as string,
});

const PROJECT_SELECT = `
SELECT p.*,
  (SELECT count(*) FROM datasets d WHERE d.project_id = p.id) AS dataset_count,
  (SELECT count(*) FROM runs r WHERE r.project_id = p.id) AS run_count,
  (SELECT r.status FROM runs r WHERE r.project_id = p.id ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1) AS latest_status
FROM projects p`;

/** One process at a time per store: a live holder (this process included) is a StoreError 'conflict', a dead one's lock is taken over. */
function lockStore(lockFile: string, root: string): void {
  try {
    acquireLock(lockFile, {
      what: `the project store in ${root}`,
      holder: 'another DoppelGANger Studio process',
      advice: `close that one first, or open another store folder (if that process is not DoppelGANger Studio, delete ${lockFile})`,
    });
  } catch (error) {
    if (!(error instanceof LockRefused)) throw error;
    throw new StoreError('conflict', error.hint ? `${error.message}; ${error.hint.text}` : error.message, { ...(error.pid ? { pid: error.pid } : {}), lockFile });
  }
}

export class Store {
  /** Absolute path of the store folder. */
  readonly dir: string;
  /** Absolute path of studio.db. */
  readonly file: string;
  private readonly db: Database.Database;
  private readonly lockFile: string;
  private readonly defaultActor: string;
  private closed = false;

  private constructor(dir: string, db: Database.Database, lockFile: string, actor: string) {
    this.dir = dir;
    this.file = path.join(dir, DB_FILE);
    this.db = db;
    this.lockFile = lockFile;
    this.defaultActor = actor;
  }

  /**
   * Opens (creating if needed) the store in `dir`: takes the single-instance lock, refuses a database
   * written by a newer version (StoreError 'store_too_new', the file untouched), and migrates an older one.
   */
  static open(dir: string, options: StoreOptions = {}): Store {
    const root = path.resolve(dir);
    fs.mkdirSync(path.join(root, PROJECTS_DIR), { recursive: true });
    const lockFile = path.join(root, LOCK_FILE);
    const file = path.join(root, DB_FILE);
    lockStore(lockFile, root);
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      let version: number;
      try {
        version = schemaVersion(db);
      } catch (error) {
        const code = sqliteCode(error);
        if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw corrupt(file, error);
        throw error;
      }
      if (version > LATEST_VERSION)
        throw new StoreError(
          'store_too_new',
          `this project store (${file}, schema version ${version}) was written by a newer version of DoppelGANger Studio (this one reads up to ${LATEST_VERSION}): update the app, or open another store folder`,
          { file, version, supported: LATEST_VERSION },
        );
      db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${Math.max(0, Math.round(options.busyTimeoutMs ?? 5000))}`);
      const actor = options.actor ?? osUser();
      const handle = db;
      // Foreign keys off while migrating (SQLite's procedure for table rebuilds), checked before each commit.
      db.pragma('foreign_keys = OFF');
      migrate(db, LATEST_VERSION, (migration) => {
        const violations = handle.pragma('foreign_key_check') as unknown[];
        if (violations.length > 0) throw new StoreError('corrupt', `migration ${migration.version} left ${violations.length} rows with broken references`);
        appendAudit(handle, {
          actor,
          action: 'store.migrate',
          subjectType: 'store',
          details: { version: migration.version, description: migration.description },
        });
      });
      db.pragma('foreign_keys = ON');
      return new Store(root, db, lockFile, actor);
    } catch (error) {
      db?.close();
      releaseLock(lockFile);
      const code = sqliteCode(error);
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw corrupt(file, error);
      throw error;
    }
  }

  /** The database's schema version (PRAGMA user_version). */
  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** Closes the database and releases the lock; calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } finally {
      releaseLock(this.lockFile);
    }
  }

  /** Runs `fn` in one transaction (nested calls become savepoints): for callers combining several methods. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- paths and artifacts

  /** Absolute path of a project's folder. */
  projectDir(projectId: string): string {
    return path.join(this.dir, PROJECTS_DIR, checkId(projectId, 'project id'));
  }

  /** Absolute path of `relative` inside the project's folder; refuses absolute paths and paths that leave it. */
  resolve(projectId: string, relative: string): string {
    return resolveInside(this.projectDir(projectId), relative);
  }

  /**
   * Writes an artifact file into the project folder atomically (temporary file in the same folder,
   * fsync, rename): `content` is the bytes or a function that writes the temporary path it is given.
   */
  async writeArtifact(projectId: string, relativePath: string, content: Uint8Array | string | ((temporaryPath: string) => Promise<void>)): Promise<ArtifactInfo & { relative: string }> {
    const full = this.resolve(projectId, relativePath);
    const info = await writeArtifactFile(full, content);
    return { ...info, relative: path.relative(this.projectDir(projectId), full).split(path.sep).join('/') };
  }

  // ---- internals

  private actor(options?: ActorOptions): string {
    return options?.actor ?? this.defaultActor;
  }

  /** One transaction for a change and its audit row; SQLite constraint errors become StoreErrors. */
  private write<T>(options: ActorOptions | undefined, fn: (audit: (entry: Omit<AuditEntry, 'actor'>) => void) => T, context = ''): T {
    const actor = this.actor(options);
    try {
      return this.db.transaction(() => fn((entry) => appendAudit(this.db, { ...entry, actor })))();
    } catch (error) {
      throw this.mapError(error, context);
    }
  }

  private mapError(error: unknown, context: string): unknown {
    const code = sqliteCode(error);
    const what = context ? `${context}: ` : '';
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
      return new StoreError('conflict', `${context || 'it'} already exists (${(error as Error).message})`, undefined, { cause: error });
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return new StoreError('not_found', `${what}it refers to something that does not exist`, undefined, { cause: error });
    if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_DATATYPE' || code === 'SQLITE_CONSTRAINT_NOTNULL')
      return new StoreError('invalid', `${what}${(error as Error).message}`, undefined, { cause: error });
    if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return corrupt(this.file, error);
    return error;
  }

  /** Inserts one row (its keys are the columns) and its audit entry in one transaction. */
  private insert<R>(table: string, row: Record<string, unknown>, entry: Omit<AuditEntry, 'actor'>, options: ActorOptions | undefined, toRecord: (row: Row) => R, context: string): R {
    const columns = Object.keys(row);
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
    return this.write(
      options,
      (audit) => {
        this.db.prepare(sql).run(row);
        audit(entry);
        return toRecord(row);
      },
      context,
    );
  }

  /** A run's records of one kind, oldest first. */
  private listByRun<R>(table: string, runId: string, toRecord: (row: Row) => R): R[] {
    this.runRow(runId);
    return (this.db.prepare(`SELECT * FROM ${table} WHERE run_id = ? ORDER BY created_at, rowid`).all(runId) as Row[]).map(toRecord);
  }

  private one(sql: string, what: string, ...params: unknown[]): Row {
    const row = this.db.prepare(sql).get(...params) as Row | undefined;
    if (!row) throw new StoreError('not_found', `${what} does not exist`);
    return row;
  }

  private runRow(runId: string): Row {
    return this.one('SELECT * FROM runs WHERE id = ?', `run ${runId}`, runId);
  }

  private relativeFile(projectId: string, relative: unknown, what: string): string {
    this.resolve(projectId, requireText(relative, what));
    return relative as string;
  }

  // ---- projects

  createProject(input: NewProject, options?: ActorOptions): ProjectSummary {
    const name = requireText(input.name, 'a project name').trim();
    const description = input.description ?? '';
    const id = randomUUID();
    return this.write(
      options,
      (audit) => {
        this.db.prepare('INSERT INTO projects (id, name, description, created_at) VALUES (?, ?, ?, ?)').run(id, name, description, now());
        audit({ action: 'project.create', subjectType: 'project', subjectId: id, projectId: id, details: { name, description } });
        fs.mkdirSync(this.projectDir(id), { recursive: true });
        return this.getProject(id);
      },
      `a project named ${JSON.stringify(name)}`,
    );
  }

  getProject(id: string): ProjectSummary {
    return toProject(this.one(`${PROJECT_SELECT} WHERE p.id = ?`, `project ${id}`, id));
  }

  /** In the order they were created. */
  listProjects(): ProjectSummary[] {
    return (this.db.prepare(`${PROJECT_SELECT} ORDER BY p.created_at, p.rowid`).all() as Row[]).map(toProject);
  }

  // ---- datasets and schemas

  addDataset(projectId: string, input: NewDataset, options?: ActorOptions): DatasetRecord {
    this.getProject(projectId);
    const id = input.id ? checkId(input.id, 'dataset id') : randomUUID();
    const row = {
      id,
      project_id: projectId,
      name: requireText(input.name, 'a dataset name'),
      source_file: requireText(input.sourceFile, 'the source file'),
      copy_file: this.relativeFile(projectId, input.copyFile, 'the imported copy'),
      sha256: requireSha(input.sha256, "the copy's sha256"),
      bytes: requireCount(input.bytes, 'bytes'),
      rows: requireCount(input.rows, 'rows'),
      series: requireCount(input.series, 'series'),
      created_at: now(),
    };
    return this.insert(
      'datasets',
      row,
      {
        action: 'dataset.add',
        subjectType: 'dataset',
        subjectId: id,
        projectId,
        details: { name: row.name, sourceFile: row.source_file, copyFile: row.copy_file, sha256: row.sha256, bytes: row.bytes, rows: row.rows, series: row.series },
      },
      options,
      toDataset,
      `dataset ${id}`,
    );
  }

  getDataset(id: string): DatasetRecord {
    return toDataset(this.one('SELECT * FROM datasets WHERE id = ?', `dataset ${id}`, id));
  }

  listDatasets(projectId: string): DatasetRecord[] {
    this.getProject(projectId);
    return (this.db.prepare('SELECT * FROM datasets WHERE project_id = ? ORDER BY created_at, rowid').all(projectId) as Row[]).map(toDataset);
  }

  /** Saves a new version of the dataset's schema mapping (1, 2, ...) and returns its number. */
  saveSchema(datasetId: string, schema: unknown, origin: SchemaOrigin, options?: ActorOptions): number {
    if (origin !== 'inferred' && origin !== 'edited') throw new StoreError('invalid', `schema origin must be 'inferred' or 'edited', not ${String(origin)}`);
    const schemaJson = json(schema);
    return this.write(options, (audit) => {
      const dataset = this.getDataset(datasetId);
      const { next } = this.db.prepare('SELECT coalesce(max(version), 0) + 1 AS next FROM schemas WHERE dataset_id = ?').get(datasetId) as { next: number };
      this.db.prepare('INSERT INTO schemas (dataset_id, version, schema_json, origin, created_at) VALUES (?, ?, ?, ?, ?)').run(datasetId, next, schemaJson, origin, now());
      audit({ action: 'schema.save', subjectType: 'dataset', subjectId: datasetId, projectId: dataset.projectId, details: { version: next, origin } });
      return next;
    });
  }

  /** The given version, or the latest. */
  getSchema(datasetId: string, version?: number): SchemaRecord {
    if (version === undefined) return toSchema(this.one('SELECT * FROM schemas WHERE dataset_id = ? ORDER BY version DESC LIMIT 1', `a schema of dataset ${datasetId}`, datasetId));
    return toSchema(this.one('SELECT * FROM schemas WHERE dataset_id = ? AND version = ?', `schema version ${version} of dataset ${datasetId}`, datasetId, version));
  }

  listSchemas(datasetId: string): SchemaRecord[] {
    this.getDataset(datasetId);
    return (this.db.prepare('SELECT * FROM schemas WHERE dataset_id = ? ORDER BY version').all(datasetId) as Row[]).map(toSchema);
  }

  // ---- runs

  createRun(projectId: string, input: NewRun, options?: ActorOptions): RunRecord {
    this.getProject(projectId);
    const dataset = this.getDataset(input.datasetId);
    if (dataset.projectId !== projectId) throw new StoreError('not_found', `dataset ${input.datasetId} is not in project ${projectId}`);
    this.getSchema(input.datasetId, input.schemaVersion);
    const status = input.status ?? 'planned';
    if (!RUN_STATUSES.includes(status)) throw new StoreError('invalid', `unknown run status ${String(status)}`);
    const id = input.id ? checkId(input.id, 'run id') : randomUUID();
    const at = now();
    const row = {
      id,
      project_id: projectId,
      dataset_id: input.datasetId,
      schema_version: input.schemaVersion,
      settings_json: json(input.settings ?? {}),
      plan_json: jsonOrNull(input.plan),
      status,
      engine: input.engine ?? null,
      iteration: 0,
      total_iterations: input.totalIterations ?? null,
      run_dir: this.relativeFile(projectId, input.runDir ?? `runs/${id}`, 'the run folder'),
      worker_pid: null,
      error_json: null,
      summary_json: null,
      created_at: at,
      updated_at: at,
    };
    return this.insert(
      'runs',
      row,
      {
        action: 'run.create',
        subjectType: 'run',
        subjectId: id,
        projectId,
        details: { datasetId: input.datasetId, schemaVersion: input.schemaVersion, status, settings: input.settings ?? {} },
      },
      options,
      toRun,
      `run ${id}`,
    );
  }

  getRun(id: string): RunRecord {
    return toRun(this.runRow(id));
  }

  /** In the order they were created. */
  listRuns(projectId: string): RunRecord[] {
    this.getProject(projectId);
    return (this.db.prepare('SELECT * FROM runs WHERE project_id = ? ORDER BY created_at, rowid').all(projectId) as Row[]).map(toRun);
  }

  /**
   * Changes a run. A status change must be one RUN_TRANSITIONS allows (else StoreError 'conflict').
   * Writes an audit row for a status, plan, engine, total, error or summary change; progress bookkeeping
   * alone (iteration, workerPid) is not audited. `null` clears a nullable field, `undefined` keeps it.
   */
  updateRun(id: string, patch: RunPatch, options?: ActorOptions): RunRecord {
    return this.write(options, (audit) => {
      const current = toRun(this.runRow(id));
      const sets: string[] = [];
      const params: Row = { id };
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = @${column}`);
        params[column] = value;
      };
      if (patch.status !== undefined && patch.status !== current.status) {
        if (!RUN_STATUSES.includes(patch.status)) throw new StoreError('invalid', `unknown run status ${String(patch.status)}`);
        if (!RUN_TRANSITIONS[current.status].includes(patch.status))
          throw new StoreError('conflict', `run ${id} is ${current.status}; it cannot become ${patch.status}`, { status: current.status, requested: patch.status });
        set('status', patch.status);
      }
      if (patch.iteration !== undefined) set('iteration', requireCount(patch.iteration, 'iteration'));
      if (patch.totalIterations !== undefined) set('total_iterations', patch.totalIterations === null ? null : requireCount(patch.totalIterations, 'totalIterations'));
      if (patch.engine !== undefined) set('engine', patch.engine);
      if (patch.workerPid !== undefined) set('worker_pid', patch.workerPid);
      if (patch.error !== undefined) set('error_json', jsonOrNull(patch.error));
      if (patch.summary !== undefined) set('summary_json', jsonOrNull(patch.summary));
      if (patch.plan !== undefined) set('plan_json', jsonOrNull(patch.plan));
      if (sets.length === 0) return current;
      set('updated_at', now());
      this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = @id`).run(params);
      const audited = (['plan', 'engine', 'totalIterations', 'error', 'summary'] as const).filter((k) => patch[k] !== undefined);
      const statusChanged = 'status' in params;
      if (statusChanged || audited.length > 0) {
        const details: Row = { iteration: patch.iteration ?? current.iteration };
        if (statusChanged) details.status = { from: current.status, to: patch.status };
        for (const key of audited) details[key] = patch[key];
        audit({ action: statusChanged ? 'run.status' : 'run.update', subjectType: 'run', subjectId: id, projectId: current.projectId, details });
      }
      return toRun(this.runRow(id));
    });
  }

  /**
   * Every run left 'running' or 'paused' becomes 'interrupted' (its worker died with the process that ran
   * it): call when a service opens the store. Returns their ids.
   */
  markInterrupted(options?: ActorOptions): string[] {
    return this.write(options, (audit) => {
      const rows = this.db.prepare("SELECT id, project_id, status, iteration FROM runs WHERE status = 'running' ORDER BY created_at, rowid").all() as Row[];
      const update = this.db.prepare("UPDATE runs SET status = 'interrupted', worker_pid = NULL, updated_at = ? WHERE id = ?");
      const at = now();
      for (const row of rows) {
        update.run(at, row.id);
        audit({
          action: 'run.status',
          subjectType: 'run',
          subjectId: row.id as string,
          projectId: row.project_id as string,
          details: { status: { from: row.status, to: 'interrupted' }, iteration: row.iteration, reason: 'the process running it ended' },
        });
      }
      return rows.map((r) => r.id as string);
    });
  }

  /**
   * Records progress samples in one transaction; a sample for an iteration already recorded replaces it
   * (a resumed run redoes iterations after its checkpoint). Not audited. Returns the number written.
   */
  addProgressSamples(runId: string, samples: readonly ProgressSample[]): number {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO progress_samples (run_id, iteration, elapsed_seconds, losses_json, epsilon, exposure, examples_per_second)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    try {
      return this.db.transaction(() => {
        for (const s of samples) insert.run(runId, requireCount(s.iteration, 'iteration'), s.elapsedSeconds, json(s.losses ?? {}), s.epsilon ?? null, s.exposure ?? null, s.examplesPerSecond ?? null);
        return samples.length;
      })();
    } catch (error) {
      throw this.mapError(error, `progress of run ${runId}`);
    }
  }

  /** By iteration; `after` keeps only later iterations (for a client catching up). */
  listProgressSamples(runId: string, options: { after?: number } = {}): ProgressSampleRecord[] {
    return (this.db.prepare('SELECT * FROM progress_samples WHERE run_id = ? AND iteration > ? ORDER BY iteration').all(runId, options.after ?? -1) as Row[]).map(toSample);
  }

  // ---- synthetic sets, evaluations, privacy reviews, exports

  addSyntheticSet(runId: string, input: NewSyntheticSet, options?: ActorOptions): SyntheticSetRecord {
    const run = toRun(this.runRow(runId));
    const id = input.id ? checkId(input.id, 'synthetic set id') : randomUUID();
    if (!Number.isSafeInteger(input.seed)) throw new StoreError('invalid', `seed must be a whole number, not ${String(input.seed)}`);
    const row = {
      id,
      run_id: runId,
      file: this.relativeFile(run.projectId, input.file, 'the synthetic data file'),
      sha256: requireSha(input.sha256, 'sha256'),
      series: requireCount(input.series, 'series'),
      seed: input.seed,
      created_at: now(),
    };
    return this.insert(
      'synthetic_sets',
      row,
      {
        action: 'synthetic.add',
        subjectType: 'synthetic_set',
        subjectId: id,
        projectId: run.projectId,
        details: { runId, file: row.file, sha256: row.sha256, series: row.series, seed: row.seed },
      },
      options,
      toSynthetic,
      `synthetic set ${id}`,
    );
  }

  getSyntheticSet(id: string): SyntheticSetRecord {
    return toSynthetic(this.one('SELECT * FROM synthetic_sets WHERE id = ?', `synthetic set ${id}`, id));
  }

  listSyntheticSets(runId: string): SyntheticSetRecord[] {
    return this.listByRun('synthetic_sets', runId, toSynthetic);
  }

  addEvaluation(runId: string, input: NewEvaluation, options?: ActorOptions): EvaluationRecord {
    const run = toRun(this.runRow(runId));
    if (input.syntheticId) this.getSyntheticSet(input.syntheticId);
    const id = input.id ? checkId(input.id, 'evaluation id') : randomUUID();
    const row = {
      id,
      run_id: runId,
      synthetic_id: input.syntheticId ?? null,
      dir: this.relativeFile(run.projectId, input.dir, 'the evaluation folder'),
      summary_json: json(input.summary ?? {}),
      created_at: now(),
    };
    return this.insert(
      'evaluations',
      row,
      {
        action: 'evaluation.add',
        subjectType: 'evaluation',
        subjectId: id,
        projectId: run.projectId,
        details: { runId, syntheticId: row.synthetic_id, dir: row.dir, summary: input.summary ?? {} },
      },
      options,
      toEvaluation,
      `evaluation ${id}`,
    );
  }

  getEvaluation(id: string): EvaluationRecord {
    return toEvaluation(this.one('SELECT * FROM evaluations WHERE id = ?', `evaluation ${id}`, id));
  }

  listEvaluations(runId: string): EvaluationRecord[] {
    return this.listByRun('evaluations', runId, toEvaluation);
  }

  addPrivacyReview(runId: string, input: NewPrivacyReview, options?: ActorOptions): PrivacyReviewRecord {
    const run = toRun(this.runRow(runId));
    if (input.evaluationId) this.getEvaluation(input.evaluationId);
    const id = input.id ? checkId(input.id, 'privacy review id') : randomUUID();
    const row = {
      id,
      run_id: runId,
      evaluation_id: input.evaluationId ?? null,
      file: this.relativeFile(run.projectId, input.file, 'the privacy review file'),
      summary_json: json(input.summary ?? {}),
      created_at: now(),
    };
    return this.insert(
      'privacy_reviews',
      row,
      {
        action: 'privacy_review.add',
        subjectType: 'privacy_review',
        subjectId: id,
        projectId: run.projectId,
        details: { runId, evaluationId: row.evaluation_id, file: row.file, summary: input.summary ?? {} },
      },
      options,
      toReview,
      `privacy review ${id}`,
    );
  }

  getPrivacyReview(id: string): PrivacyReviewRecord {
    return toReview(this.one('SELECT * FROM privacy_reviews WHERE id = ?', `privacy review ${id}`, id));
  }

  listPrivacyReviews(runId: string): PrivacyReviewRecord[] {
    return this.listByRun('privacy_reviews', runId, toReview);
  }

  /** Records a file written for sharing; `file` may be absolute (outside the project) or relative to it. */
  addExport(runId: string, input: NewExport, options?: ActorOptions): ExportRecord {
    const run = toRun(this.runRow(runId));
    if (input.syntheticId) this.getSyntheticSet(input.syntheticId);
    const file = requireText(input.file, 'the exported file');
    if (!path.isAbsolute(file)) this.resolve(run.projectId, file);
    const id = input.id ? checkId(input.id, 'export id') : randomUUID();
    const row = {
      id,
      run_id: runId,
      synthetic_id: input.syntheticId ?? null,
      file,
      format: requireText(input.format, 'the export format'),
      sha256: requireSha(input.sha256, 'sha256'),
      bytes: requireCount(input.bytes, 'bytes'),
      settings_json: json(input.settings ?? {}),
      created_at: now(),
    };
    return this.insert(
      'exports',
      row,
      {
        action: 'export.add',
        subjectType: 'export',
        subjectId: id,
        projectId: run.projectId,
        details: { runId, syntheticId: row.synthetic_id, file, format: row.format, sha256: row.sha256, bytes: row.bytes, settings: input.settings ?? {} },
      },
      options,
      toExport,
      `export ${id}`,
    );
  }

  getExport(id: string): ExportRecord {
    return toExport(this.one('SELECT * FROM exports WHERE id = ?', `export ${id}`, id));
  }

  listExports(runId: string): ExportRecord[] {
    return this.listByRun('exports', runId, toExport);
  }

  // ---- audit log

  /** Newest first; `limit` keeps the newest N. */
  listAudit(options: { projectId?: string; subjectId?: string; limit?: number } = {}): AuditRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.projectId !== undefined) {
      where.push('project_id = ?');
      params.push(options.projectId);
    }
    if (options.subjectId !== undefined) {
      where.push('subject_id = ?');
      params.push(options.subjectId);
    }
    const limit = options.limit === undefined ? -1 : requireCount(options.limit, 'limit');
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, limit) as AuditRow[]).map(toAuditRecord);
  }

  /** Recomputes the audit log's hash chain; reports the first row that does not fit. */
  verifyAudit(): AuditVerification {
    return verifyAuditChain(this.db);
  }
}

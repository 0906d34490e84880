/**
 * The schema, as an ordered list of migrations. Migration N brings a database from user_version N-1 to N,
 * in one transaction that also sets `PRAGMA user_version = N`. Add a migration at the end; never edit
 * one that has shipped (databases in the field already ran it, and tests/fixtures/store-v1.sql is v1).
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up: string | ((db: Database.Database) => void);
}

const JSON_CHECK = (column: string) => `CHECK (json_valid(${column}))`;

const V1 = `
CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
  description TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  source_file TEXT NOT NULL,
  copy_file TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  rows INTEGER NOT NULL CHECK (rows >= 0),
  series INTEGER NOT NULL CHECK (series >= 0),
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX datasets_project ON datasets (project_id);

CREATE TABLE schemas (
  dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  schema_json TEXT NOT NULL ${JSON_CHECK('schema_json')},
  origin TEXT NOT NULL CHECK (origin IN ('inferred', 'edited')),
  created_at TEXT NOT NULL,
  PRIMARY KEY (dataset_id, version)
) STRICT;

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  dataset_id TEXT NOT NULL REFERENCES datasets (id),
  schema_version INTEGER NOT NULL,
  settings_json TEXT NOT NULL ${JSON_CHECK('settings_json')},
  plan_json TEXT ${JSON_CHECK('plan_json')},
  status TEXT NOT NULL CHECK (status IN ('planned', 'running', 'paused', 'interrupted', 'cancelled', 'complete', 'failed')),
  engine TEXT,
  iteration INTEGER NOT NULL DEFAULT 0 CHECK (iteration >= 0),
  total_iterations INTEGER CHECK (total_iterations >= 0),
  run_dir TEXT NOT NULL,
  worker_pid INTEGER,
  error_json TEXT ${JSON_CHECK('error_json')},
  summary_json TEXT ${JSON_CHECK('summary_json')},
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (dataset_id, schema_version) REFERENCES schemas (dataset_id, version)
) STRICT;
CREATE INDEX runs_project ON runs (project_id, created_at);
CREATE INDEX runs_schema ON runs (dataset_id, schema_version);

CREATE TABLE progress_samples (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  iteration INTEGER NOT NULL CHECK (iteration >= 0),
  elapsed_seconds REAL NOT NULL,
  losses_json TEXT NOT NULL ${JSON_CHECK('losses_json')},
  epsilon REAL,
  exposure REAL,
  PRIMARY KEY (run_id, iteration)
) STRICT;

CREATE TABLE synthetic_sets (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  series INTEGER NOT NULL CHECK (series >= 0),
  seed INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX synthetic_sets_run ON synthetic_sets (run_id);

CREATE TABLE evaluations (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  synthetic_id TEXT REFERENCES synthetic_sets (id) ON DELETE CASCADE,
  dir TEXT NOT NULL,
  summary_json TEXT NOT NULL ${JSON_CHECK('summary_json')},
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX evaluations_run ON evaluations (run_id);
CREATE INDEX evaluations_synthetic ON evaluations (synthetic_id);

CREATE TABLE privacy_reviews (
  id TEXT PRIMARY KEY,
  evaluation_id TEXT REFERENCES evaluations (id) ON DELETE CASCADE,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  file TEXT NOT NULL,
  summary_json TEXT NOT NULL ${JSON_CHECK('summary_json')},
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX privacy_reviews_evaluation ON privacy_reviews (evaluation_id);
CREATE INDEX privacy_reviews_run ON privacy_reviews (run_id);

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_id TEXT,
  project_id TEXT,
  details_json TEXT NOT NULL ${JSON_CHECK('details_json')},
  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
) STRICT;
CREATE INDEX audit_log_project ON audit_log (project_id, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

const V2 = `
CREATE TABLE exports (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  synthetic_id TEXT REFERENCES synthetic_sets (id) ON DELETE SET NULL,
  file TEXT NOT NULL,
  format TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  settings_json TEXT NOT NULL ${JSON_CHECK('settings_json')},
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX exports_run ON exports (run_id);
CREATE INDEX exports_synthetic ON exports (synthetic_id);

ALTER TABLE progress_samples ADD COLUMN examples_per_second REAL;

CREATE INDEX runs_status ON runs (status);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'projects, datasets, schemas, runs, progress, synthetic sets, evaluations, privacy reviews, audit log', up: V1 },
  { version: 2, description: 'exports table; progress samples keep examples per second; runs indexed by status', up: V2 },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Runs the migrations after the database's user_version, up to `target` (default: all), each in its own
 * transaction; `onApplied` runs inside that transaction (the store writes its audit row there).
 * Returns the versions applied.
 */
export function migrate(db: Database.Database, target = LATEST_VERSION, onApplied?: (migration: Migration) => void): number[] {
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version > target) break;
    db.transaction(() => {
      // Read inside the transaction: another connection may have migrated since.
      if (schemaVersion(db) >= migration.version) return;
      if (typeof migration.up === 'string') db.exec(migration.up);
      else migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
      onApplied?.(migration);
      applied.push(migration.version);
    }).immediate();
  }
  return applied;
}

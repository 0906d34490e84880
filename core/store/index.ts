/** The project store: SQLite metadata + audit log, artifacts as files in project folders. See README.md. */
export { Store, type StoreOptions } from './store.ts';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.ts';
export { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.ts';
export { canonicalJson, GENESIS_HASH } from './audit.ts';
export { DB_FILE, LOCK_FILE, PROJECTS_DIR, defaultStoreDir, sha256File, type ArtifactInfo } from './paths.ts';
export * from './types.ts';

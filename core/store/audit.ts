/**
 * The audit log's hash chain. Each row's `hash` is the SHA-256 (hex) of its `prev_hash` followed by the
 * canonical JSON of its other stored fields; the first row's `prev_hash` is 64 zeros. Editing, deleting
 * or reordering a row (after dropping the append-only triggers) breaks the chain at that row or the next.
 * Truncating the newest rows is not detectable from the table alone.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AuditRecord, AuditVerification } from './types.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`cannot record ${value} in JSON`);
    if (typeof value === 'bigint') throw new TypeError('cannot record a bigint in JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** The stored row, as the chain hashes it. */
export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string | null;
  project_id: string | null;
  details_json: string;
  prev_hash: string;
  hash: string;
}

export function auditHash(row: Omit<AuditRow, 'hash'>): string {
  const { prev_hash, ...fields } = row;
  return createHash('sha256')
    .update(prev_hash + canonicalJson(fields))
    .digest('hex');
}

export interface AuditEntry {
  actor: string;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  projectId?: string | null;
  details?: unknown;
}

/** Appends one row; call inside the transaction of the action it records. */
export function appendAudit(db: Database.Database, entry: AuditEntry, at = new Date().toISOString()): AuditRow {
  const last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  const unhashed = {
    seq: (last?.seq ?? 0) + 1,
    at,
    actor: entry.actor,
    action: entry.action,
    subject_type: entry.subjectType,
    subject_id: entry.subjectId ?? null,
    project_id: entry.projectId ?? null,
    details_json: canonicalJson(entry.details ?? {}),
    prev_hash: last?.hash ?? GENESIS_HASH,
  };
  const row: AuditRow = { ...unhashed, hash: auditHash(unhashed) };
  db.prepare(
    `INSERT INTO audit_log (seq, at, actor, action, subject_type, subject_id, project_id, details_json, prev_hash, hash)
     VALUES (@seq, @at, @actor, @action, @subject_type, @subject_id, @project_id, @details_json, @prev_hash, @hash)`,
  ).run(row);
  return row;
}

/** Recomputes the chain from the first row; reports the first row (by seq) that does not fit. */
export function verifyAuditChain(db: Database.Database): AuditVerification {
  let previous = GENESIS_HASH;
  let expectedSeq = 1;
  let rows = 0;
  let broken: { brokenAt: number; reason: string } | undefined;
  for (const row of db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as IterableIterator<AuditRow>) {
    const { hash, ...unhashed } = row;
    if (row.seq !== expectedSeq) broken = { brokenAt: row.seq, reason: `row ${row.seq} follows row ${expectedSeq - 1}: rows are missing` };
    else if (row.prev_hash !== previous) broken = { brokenAt: row.seq, reason: `row ${row.seq} does not link to the row before it (a row was removed or changed)` };
    else if (auditHash(unhashed) !== hash) broken = { brokenAt: row.seq, reason: `row ${row.seq} was changed after it was written (its hash does not match its contents)` };
    if (broken) break;
    rows++;
    previous = hash;
    expectedSeq++;
  }
  if (!broken) return { ok: true, rows };
  const total = (db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  return { ok: false, rows: total, ...broken };
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  let details: unknown;
  try {
    details = JSON.parse(row.details_json);
  } catch {
    details = row.details_json;
  }
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    projectId: row.project_id,
    details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

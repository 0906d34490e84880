/**
 * Atomic file writes: everything goes to `<file>.tmp-<pid>`, is flushed, and only then renamed over the
 * final name, so a crash, a cancel or an error never leaves a half-written file under that name.
 */
import fs from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from './errors.ts';
import { processAlive } from './lock-file.ts';

export function temporaryPath(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

const TEMPORARY = /\.tmp-(\d+)(?:-[0-9a-f]+)?$/;

/**
 * Removes the temporary files that processes now gone (a crash, kill -9) left in `dir`, optionally only
 * those of `name`; returns the names removed. A live process's temporaries are left alone.
 */
export function removeStaleTemporaries(dir: string, name?: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const entry of fs.readdirSync(dir)) {
    const m = TEMPORARY.exec(entry);
    if (!m || (name !== undefined && !entry.startsWith(`${name}.tmp-`))) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    fs.rmSync(path.join(dir, entry), { force: true });
    removed.push(entry);
  }
  return removed;
}

/** A missing output folder, said as such (not as an error about an internal temporary file). */
function checkFolder(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir))
    throw new ApiError('not_found', `the folder ${dir} does not exist, so ${path.basename(file)} cannot be written there`, {
      where: { file },
      hint: { text: 'create the folder, or choose another place' },
    });
}

/** Disk full and the like, said in words with what to do; other errors as they are. */
export function describeWriteError(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC')
    return new ApiError('internal', `the disk is full: ${file} could not be written (nothing half-written was left)`, { where: { file }, hint: { text: 'free some space and try again' } });
  if (code === 'EACCES' || code === 'EPERM') return new ApiError('forbidden', `no permission to write ${file}`, { where: { file }, hint: { text: 'choose a folder you can write to' } });
  if (code === 'EROFS') return new ApiError('forbidden', `${file} is on a read-only file system`, { where: { file } });
  return error;
}

/** Makes the rename itself durable; not every file system supports fsync on a directory. */
function syncDirectory(file: string): void {
  try {
    const dir = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dir);
    fs.closeSync(dir);
  } catch {
    // The rename is still atomic; only its durability across power loss is not guaranteed.
  }
}

/** Streams a file through `write`, then publishes it atomically. */
export async function writeAtomically(file: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  checkFolder(file);
  const temporary = temporaryPath(file);
  const handle = await open(temporary, 'w').catch((error) => {
    throw describeWriteError(error, file);
  });
  try {
    await write(handle);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw describeWriteError(error, file);
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  syncDirectory(file);
}

/** Writes byte chunks to `file` atomically (synchronous: checkpoints are written between training steps). */
export function writeFileAtomic(file: string, chunks: Uint8Array[]): void {
  checkFolder(file);
  const temporary = temporaryPath(file);
  try {
    const fd = fs.openSync(temporary, 'w');
    try {
      for (const chunk of chunks) fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw describeWriteError(error, file);
  }
  syncDirectory(file);
}

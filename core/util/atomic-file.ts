/**
 * Atomic file writes: everything goes to `<file>.tmp-<pid>`, is flushed, and only then renamed over the
 * final name, so a crash, a cancel or an error never leaves a half-written file under that name.
 */
import fs from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export function temporaryPath(file: string): string {
  return `${file}.tmp-${process.pid}`;
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
  const temporary = temporaryPath(file);
  const handle = await open(temporary, 'w');
  try {
    await write(handle);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
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
    throw error;
  }
  syncDirectory(file);
}

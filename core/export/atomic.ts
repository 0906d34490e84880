/**
 * Atomic file writes: everything goes to `<file>.tmp-<pid>` and is renamed over the final name only once
 * it is complete and flushed, so a crash or an error never leaves a half-written file under that name.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

export function temporaryPath(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

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
}

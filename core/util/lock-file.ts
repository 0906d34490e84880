/**
 * An exclusive lock held by a live process: a file created exclusively holding the owner's pid. A lock
 * whose process is gone (a crash, kill -9) is stale and taken over; a live owner's is refused.
 */
import fs from 'node:fs';
import { ApiError } from './errors.ts';

/** Whether a process with this pid exists (one we may not signal counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `file` for this process, or throws `conflict` naming the owner; returns the release function. */
export function acquireLock(file: string, what: string): () => void {
  const mine = String(process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === mine) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number(fs.readFileSync(file, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new ApiError('conflict', `${what} is in use by another process (pid ${owner})`, { where: { file }, hint: { text: 'wait for it to finish, or stop that process' } });
    }
    if (owner === process.pid) throw new ApiError('conflict', `${what} is already in use by this process`, { where: { file } });
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new ApiError('conflict', `could not lock ${what}`, { where: { file } });
}

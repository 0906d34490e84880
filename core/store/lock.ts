/**
 * One process at a time per store: `studio.lock` holds the owner's pid. A lock whose process is gone
 * (kill -9, power loss) is taken over; a live owner, this process included, is a conflict.
 */
import fs from 'node:fs';
import { processAlive } from '../util/lock-file.ts';
import { StoreError } from './errors.ts';

function readOwner(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock at `file` for this process; throws StoreError 'conflict' when a live process holds it. */
export function acquireLock(file: string, what = 'this store'): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    if (owner === process.pid) throw new StoreError('conflict', `${what} is already open in this process (pid ${owner}); close it before opening it again`, { pid: owner, lockFile: file });
    if (owner !== undefined && processAlive(owner))
      throw new StoreError(
        'conflict',
        `${what} is in use by another DoppelGANger Studio process (pid ${owner}); close that one first, or open another store folder (if pid ${owner} is not DoppelGANger Studio, delete ${file})`,
        { pid: owner, lockFile: file },
      );
    if (owner === undefined) {
      // Unreadable: possibly being written this instant by another opener; only a lock left for a while is stale.
      let age = Number.POSITIVE_INFINITY;
      try {
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {}
      if (age < 2000) throw new StoreError('conflict', `${what} is being opened by another process (${file})`, { lockFile: file });
    }
    // Stale: its process is gone. Move it aside under a name of our own and look again at what we moved:
    // if another opener replaced the stale lock meanwhile, we moved a live lock, so put it back.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = readOwner(aside);
    if (moved !== undefined && moved !== owner && processAlive(moved)) {
      try {
        fs.linkSync(aside, file);
      } catch {}
      fs.rmSync(aside, { force: true });
      throw new StoreError('conflict', `${what} is in use by another DoppelGANger Studio process (pid ${moved})`, { pid: moved, lockFile: file });
    }
    fs.rmSync(aside, { force: true });
  }
  throw new StoreError('conflict', `could not take the lock ${file}`, { lockFile: file });
}

/** Removes the lock if this process still holds it. */
export function releaseLock(file: string): void {
  if (readOwner(file) === process.pid) fs.rmSync(file, { force: true });
}

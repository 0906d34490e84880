/**
 * An exclusive lock held by a live process: a file created exclusively holding the owner's pid. A lock
 * whose process is gone (a crash, kill -9, power loss) is stale and taken over; a live owner's, this
 * process included, is refused. One implementation for the project store and the run folders.
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

/** Why a lock was refused: the live holder (absent when the lock could not be read or taken at all). */
export class LockRefused extends ApiError {
  constructor(
    message: string,
    readonly lockFile: string,
    readonly pid?: number,
    hint?: string,
  ) {
    super('conflict', message, { where: { file: lockFile }, ...(hint ? { hint: { text: hint } } : {}) });
  }
}

export interface LockOptions {
  /** What the lock guards, for messages ("the run folder /x", "the project store in /y"). */
  what: string;
  /** Who holds such locks ("another DoppelGANger Studio process"); default "another process". */
  holder?: string;
  /** What to do about a live holder. */
  advice?: string;
}

function readOwner(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock at `file` for this process, or throws LockRefused (an ApiError `conflict`) naming the owner; returns the release function. */
export function acquireLock(file: string, options: LockOptions): () => void {
  const { what, holder = 'another process', advice } = options;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => releaseLock(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    if (owner === process.pid) throw new LockRefused(`${what} is already in use by this process (pid ${owner})`, file, owner, 'close it before opening it again');
    if (owner !== undefined && processAlive(owner)) throw new LockRefused(`${what} is in use by ${holder} (pid ${owner})`, file, owner, advice ?? 'wait for it to finish, or stop that process');
    if (owner === undefined) {
      // Unreadable: possibly being written this instant by another opener; only a lock left for a while is stale.
      let age = Number.POSITIVE_INFINITY;
      try {
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {}
      if (age < 2000) throw new LockRefused(`${what} is being opened by another process (${file})`, file);
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
      throw new LockRefused(`${what} is in use by ${holder} (pid ${moved})`, file, moved, advice);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new LockRefused(`could not take the lock ${file}`, file);
}

/** Removes the lock if this process still holds it. */
export function releaseLock(file: string): void {
  if (readOwner(file) === process.pid) fs.rmSync(file, { force: true });
}

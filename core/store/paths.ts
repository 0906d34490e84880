/** Where the store lives, paths inside a project folder, and artifact files (hashed, written atomically). */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { StoreError } from './errors.ts';

export const DB_FILE = 'studio.db';
export const LOCK_FILE = 'studio.lock';
export const PROJECTS_DIR = 'projects';

/**
 * `$DG_STORE_DIR` if set; else the platform's per-user data folder: `$XDG_DATA_HOME/doppelganger-studio`
 * (or `~/.local/share/doppelganger-studio`) on Linux and other Unixes, `~/Library/Application
 * Support/DoppelGANger Studio` on macOS, `%APPDATA%/DoppelGANger Studio` on Windows.
 */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env.DG_STORE_DIR) return path.resolve(env.DG_STORE_DIR);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'DoppelGANger Studio');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'DoppelGANger Studio');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'doppelganger-studio');
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function checkId(id: string, what = 'id'): string {
  if (typeof id !== 'string' || !ID.test(id) || id.length > 100) throw new StoreError('invalid', `${JSON.stringify(id)} is not a valid ${what}`);
  return id;
}

/** Absolute path of `relative` inside `base`; refuses absolute paths and any that leave `base`. */
export function resolveInside(base: string, relative: string): string {
  if (typeof relative !== 'string' || relative === '' || relative.includes('\0') || path.isAbsolute(relative) || path.win32.isAbsolute(relative))
    throw new StoreError('invalid', `${JSON.stringify(relative)} is not a path relative to the project folder`);
  const full = path.resolve(base, relative);
  const rel = path.relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw new StoreError('invalid', `${JSON.stringify(relative)} leaves the project folder`);
  return full;
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ArtifactInfo {
  /** Absolute path written. */
  path: string;
  sha256: string;
  bytes: number;
}

/**
 * Writes `file` atomically: the content goes to a temporary file in the same folder, is flushed, and is
 * renamed over `file`, so readers see the old file or the whole new one. `content` is the bytes, or a
 * function that writes the temporary file at the path it is given (for writers that want a path, such
 * as a Parquet writer). Returns the SHA-256 and size of what was written.
 */
export async function writeArtifactFile(file: string, content: Uint8Array | string | ((temporaryPath: string) => Promise<void>)): Promise<ArtifactInfo> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (typeof content !== 'function') {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    writeFileAtomic(file, [bytes]);
    return { path: file, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength };
  }
  const temporary = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  try {
    await content(temporary);
    const handle = await open(temporary, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const [sha256, info] = await Promise.all([sha256File(temporary), stat(temporary)]);
    await rename(temporary, file);
    syncDirectory(file);
    return { path: file, sha256, bytes: info.size };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function syncDirectory(file: string): void {
  try {
    const fd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every file system syncs directories; the rename is atomic all the same.
  }
}

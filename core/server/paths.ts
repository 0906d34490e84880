/**
 * File confinement for the transports: which paths a call may read or write. A path is judged by its
 * canonical form (fs.realpathSync of the deepest existing ancestor, plus the rest), so `..` and symbolic
 * links cannot lead out of an allowed place. Refusals throw ApiError('forbidden').
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.ts';

export type Access = 'read' | 'write';

export interface PathGuard {
  /** Throws ApiError('forbidden') unless `p` may be accessed so. */
  authorize(p: string, access: Access): void;
  /** Lets this one file be read (an upload, a file picked in a dialog) or written (a save dialog's pick). */
  grant(p: string, access: Access): void;
}

function forbidden(p: unknown, why: string): ApiError {
  return new ApiError('forbidden', `The app may not access ${JSON.stringify(p)}: ${why}.`, {
    hint: { text: 'Upload the file, pick it in the app, or put it inside the project folder.' },
  });
}

/**
 * The canonical absolute form of `p`: symlinks resolved for every part that exists. A missing final part is
 * fine (a file about to be written), but a dangling symlink is not (writing through it would leave the root).
 */
export function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let exists = false;
  try {
    fs.lstatSync(abs);
    exists = true;
  } catch {
    // really missing
  }
  if (exists) throw forbidden(p, 'it is a link to a place that does not exist');
  const parent = path.dirname(abs);
  if (parent === abs) return abs;
  return path.join(canonicalPath(parent), path.basename(abs));
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

export function createPathGuard(options: { allowedRoots?: readonly string[] } = {}): PathGuard {
  const roots = (options.allowedRoots ?? []).map((r) => path.resolve(r));
  const granted = { read: new Set<string>(), write: new Set<string>() };

  function canonical(p: unknown): string {
    if (typeof p !== 'string' || p === '') throw forbidden(p, 'not a file path');
    if (p.includes('\0')) throw forbidden(p, 'the path contains a NUL byte');
    try {
      return canonicalPath(p);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw forbidden(p, (err as Error).message);
    }
  }

  function insideRoot(c: string): boolean {
    for (const root of roots) {
      let r: string;
      try {
        r = canonicalPath(root);
      } catch {
        continue;
      }
      if (isInside(r, c)) return true;
    }
    return false;
  }

  return {
    authorize(p, access) {
      const c = canonical(p);
      if (granted[access].has(c)) return;
      // A file the user chose to write may be read back (an export they just made).
      if (access === 'read' && granted.write.has(c)) return;
      if (insideRoot(c)) return;
      throw forbidden(p, access === 'read' ? 'it was neither uploaded nor picked, nor is it in the project folder' : 'it is outside the project folder and was not picked');
    },
    grant(p, access) {
      granted[access].add(canonical(p));
    },
  };
}

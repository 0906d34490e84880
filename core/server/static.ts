/**
 * Static files for browser mode: the built renderer (renderer/dist) or the placeholder page. No directory
 * listings, nothing outside the folder, and the app's Content-Security-Policy on every HTML page.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isInside } from './paths.ts';
import { projectRoot } from '../util/root.ts';

const REPO_ROOT = projectRoot;

/** renderer/dist when the renderer has been built, else the placeholder page. */
export function defaultStaticDir(): string {
  const dist = path.join(REPO_ROOT, 'renderer', 'dist');
  if (fs.existsSync(path.join(dist, 'index.html'))) return dist;
  return path.join(REPO_ROOT, 'renderer', 'placeholder');
}

/** The app's Content-Security-Policy; `wsOrigins` are the event socket's origins (ws://host:port). */
export function contentSecurityPolicy(wsOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    ['connect-src', "'self'", ...wsOrigins].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

function fileAt(p: string): fs.Stats | undefined {
  try {
    const st = fs.statSync(p);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves `pathname` (still URL-encoded) from `root`; a folder's index.html for a folder, 404 for anything
 * missing or outside it (the renderer routes with the URL's hash, so no fallback page is needed).
 */
export function serveStatic(req: IncomingMessage, res: ServerResponse, root: string, pathname: string, csp: string): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return plain(res, 400, 'Bad path');
  }
  if (decoded.includes('\0')) return plain(res, 400, 'Bad path');
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    return plain(res, 404, 'Not found');
  }
  let file = path.resolve(realRoot, `.${path.posix.sep}${decoded}`);
  if (!isInside(realRoot, file)) return plain(res, 404, 'Not found');
  let st = fileAt(file);
  if (!st) {
    file = path.join(file, 'index.html');
    st = fileAt(file);
    if (!st) return plain(res, 404, 'Not found');
  }
  // Symlinks inside the folder must not lead out of it either.
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return plain(res, 404, 'Not found');
  }
  if (!isInside(realRoot, real)) return plain(res, 404, 'Not found');
  const type = TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream';
  res.statusCode = 200;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', st.size);
  res.setHeader('Cache-Control', 'no-cache');
  if (type.startsWith('text/html')) res.setHeader('Content-Security-Policy', csp);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(real);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

export function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}

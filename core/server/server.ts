/**
 * Browser mode: the API contract (core/api/transport.ts) served on loopback, for machines without Electron
 * (a headless GPU server, a build machine). It decides nothing: it authenticates the caller (a per-launch
 * token, then a cookie), refuses foreign Host and Origin headers (DNS rebinding, CSRF), confines file
 * arguments, and carries bytes.
 *
 *   POST /api/call/<method>   JSON args -> {ok, result | error}
 *   GET  /api/events          WebSocket: every ApiEvent as one JSON text message
 *   POST /api/upload?name=F   raw bytes streamed to disk -> {ok, result: {path}}; that path may then be read
 *   GET  /api/download?path=P a file a call may read
 *   GET  /*                   the renderer (static files)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, type ApiErrorData, type ErrorCode } from '../api/errors.ts';
import type { ApiHost, CallContext, CallOutcome } from '../api/transport.ts';
import { createPathGuard } from './paths.ts';
import { contentSecurityPolicy, defaultStaticDir, plain, serveStatic } from './static.ts';

export { defaultStaticDir } from './static.ts';

export interface ServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The renderer's files; renderer/dist when built, else the placeholder page. */
  staticDir?: string;
  /** Where uploads are written (one random folder per upload). */
  uploadDir: string;
  /** Folders calls may read and write in (the store's folder, for exports). */
  allowedRoots?: string[];
  /** Largest JSON body of a call, in bytes (1 MiB). */
  maxBodyBytes?: number;
  /** How often dead event sockets are looked for (30 s). */
  heartbeatMs?: number;
}

export interface RunningServer {
  /** The URL to open once: it carries the token. */
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  cancelled: 409,
  store_too_new: 409,
  data_error: 422,
  internal: 500,
  unsupported: 501,
};

export function httpStatusOf(code: string): number {
  return HTTP_STATUS[code as ErrorCode] ?? 500;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function sanitizeName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base
    .replace(/[^A-Za-z0-9._ -]/g, '_')
    .replace(/^[.\s]+/, '')
    .slice(0, 200)
    .trim();
  return clean === '' ? 'upload' : clean;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiErrorData): void {
  sendJson(res, httpStatusOf(error.code), { ok: false, error });
}

function errorOf(err: unknown): ApiErrorData {
  if (err instanceof ApiError) return err.toData();
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}

/** Reads a body up to `limit` bytes; resolves null when it is larger (the rest is drained). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Rejects an upgrade before the WebSocket handshake. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }
  socket.destroy();
}

export async function startServer(host: ApiHost, options: ServerOptions): Promise<RunningServer> {
  const token = crypto.randomBytes(32).toString('base64url');
  const staticDir = options.staticDir ?? defaultStaticDir();
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const uploadDir = path.resolve(options.uploadDir);
  fs.mkdirSync(uploadDir, { recursive: true });
  const guard = createPathGuard({ allowedRoots: options.allowedRoots ?? [] });
  const context: CallContext = { authorizePath: (p, access) => guard.authorize(p, access) };

  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  let port = 0;
  let cookieName = '';
  let hosts = new Set<string>();
  let origins = new Set<string>();
  let csp = '';

  const bearer = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization;
    return typeof h === 'string' && h.startsWith('Bearer ') && safeEqual(h.slice(7).trim(), token);
  };
  const authenticated = (req: IncomingMessage): boolean => {
    const c = cookies(req).get(cookieName);
    return (c !== undefined && safeEqual(c, token)) || bearer(req);
  };
  const hostOk = (req: IncomingMessage): boolean => typeof req.headers.host === 'string' && hosts.has(req.headers.host);
  const originOk = (req: IncomingMessage): boolean => req.headers.origin === undefined || origins.has(req.headers.origin);

  async function handleCall(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendError(res, { code: 'invalid_argument', message: 'Calls are POST requests.' });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      return sendJson(res, 415, { ok: false, error: { code: 'invalid_argument', message: 'Calls take Content-Type: application/json.' } });
    }
    const body = await readBody(req, maxBody);
    if (body === null) {
      return sendJson(res, 413, { ok: false, error: { code: 'invalid_argument', message: `A call's arguments may be at most ${maxBody} bytes.` } });
    }
    let args: unknown;
    if (body.length > 0) {
      try {
        args = JSON.parse(body.toString('utf8'));
      } catch {
        return sendError(res, { code: 'invalid_argument', message: "The call's body is not JSON." });
      }
    }
    let outcome: CallOutcome;
    try {
      outcome = await host.call(method, args, context);
    } catch (err) {
      outcome = { ok: false, error: errorOf(err) };
    }
    if (outcome.ok) sendJson(res, 200, outcome);
    else sendError(res, outcome.error);
  }

  async function handleUpload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') return sendError(res, { code: 'invalid_argument', message: 'Uploads are POST requests.' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      req.resume();
      return sendJson(res, 415, { ok: false, error: { code: 'invalid_argument', message: 'Uploads take Content-Type: application/octet-stream.' } });
    }
    const name = sanitizeName(url.searchParams.get('name') ?? '');
    const dir = path.join(uploadDir, crypto.randomBytes(12).toString('hex'));
    const file = path.join(dir, name);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      await pipeline(req, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      if (!res.headersSent && !req.destroyed) sendError(res, errorOf(err));
      else res.destroy();
      return;
    }
    guard.grant(file, 'read');
    sendJson(res, 200, { ok: true, result: { path: file } });
  }

  function handleDownload(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const p = url.searchParams.get('path') ?? '';
    try {
      guard.authorize(p, 'read');
    } catch (err) {
      return sendError(res, errorOf(err));
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      st = undefined;
    }
    if (!st?.isFile()) return sendError(res, { code: 'not_found', message: `No file at ${p}.` });
    const name = path.basename(p);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', st.size);
    res.setHeader('Content-Disposition', `attachment; filename="${sanitizeName(name)}"; filename*=UTF-8''${encodeURIComponent(name)}`);
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(p);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 sends its own name here.
    if (!hostOk(req)) return plain(res, 403, 'Forbidden host');
    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (!isGet && !originOk(req)) return plain(res, 403, 'Forbidden origin');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    } catch {
      return plain(res, 400, 'Bad request');
    }
    const given = url.searchParams.get('token');
    if (given !== null && isGet) {
      if (!safeEqual(given, token)) return plain(res, 401, 'Wrong access token: open the link printed by npm start.');
      res.statusCode = 302;
      res.setHeader('Set-Cookie', `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete('token');
      res.setHeader('Location', url.pathname + url.search);
      res.setHeader('Cache-Control', 'no-store');
      res.end();
      return;
    }
    if (!authenticated(req)) return plain(res, 401, 'Not signed in: open the link printed by npm start (it carries the access token).');
    const p = url.pathname;
    if (p.startsWith('/api/call/')) {
      let method: string;
      try {
        method = decodeURIComponent(p.slice('/api/call/'.length));
      } catch {
        return sendError(res, { code: 'invalid_argument', message: 'Bad method name.' });
      }
      return handleCall(req, res, method);
    }
    if (p === '/api/upload') return handleUpload(req, res, url);
    if (p === '/api/download') {
      if (!isGet) return sendError(res, { code: 'invalid_argument', message: 'Downloads are GET requests.' });
      return handleDownload(req, res, url);
    }
    if (p === '/api/events') return plain(res, 426, 'Upgrade to a WebSocket');
    if (p.startsWith('/api/')) return sendError(res, { code: 'not_found', message: `No such endpoint: ${p}` });
    if (!isGet) {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'Method not allowed');
    }
    serveStatic(req, res, staticDir, p, csp);
  }

  server.on('request', (req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, errorOf(err));
      else res.destroy();
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostOk(req)) return refuseUpgrade(socket, 403, 'Forbidden host');
    const origin = req.headers.origin;
    // Browsers always send Origin on a WebSocket upgrade; only scripts with the bearer token may omit it.
    if (origin === undefined ? !bearer(req) : !origins.has(origin)) return refuseUpgrade(socket, 403, 'Forbidden origin');
    if (!authenticated(req)) return refuseUpgrade(socket, 401, 'Not signed in');
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== '/api/events') return refuseUpgrade(socket, 404, 'Not found');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const alive = new WeakMap<WebSocket, boolean>();
  wss.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('error', () => ws.terminate());
    // The socket only carries events out; anything sent in is ignored.
  });
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  const unsubscribe = host.onEvent((event) => {
    let text: string;
    try {
      text = JSON.stringify(event);
    } catch {
      return;
    }
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  // Cookies are shared by every port of a host: one name per launch's port keeps two launches apart.
  cookieName = `dg_token_${port}`;
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  origins = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
  csp = contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]);
  const origin = `http://127.0.0.1:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close() {
      closed ??= (async () => {
        clearInterval(heartbeat);
        unsubscribe();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

/**
 * Browser mode's server (core/server): token and cookie, Host and Origin checks, calls, events over a real
 * WebSocket, uploads and file confinement, static files, and the placeholder page in a real Chromium.
 * It runs against a small ApiHost written here, so it knows nothing of the real contract's methods.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ApiError } from '../core/api/errors.ts';
import type { ApiEvent, ApiHost, CallContext, CallOutcome } from '../core/api/transport.ts';
import { startServer, type RunningServer } from '../core/server/server.ts';

function testHost() {
  const listeners = new Set<(e: ApiEvent) => void>();
  const emit = (e: ApiEvent) => {
    for (const l of listeners) l(e);
  };
  const methods: Record<string, (args: Record<string, string>, ctx: CallContext) => unknown> = {
    echo: (args) => args,
    'app.info': () => ({ name: 'DoppelGANger Studio', version: 'test', engine: 'reference' }),
    'files.inspect': (args, ctx) => {
      ctx.authorizePath?.(args.path, 'read');
      return { bytes: fs.statSync(args.path).size, head: fs.readFileSync(args.path, 'utf8').slice(0, 20) };
    },
    'files.write': (args, ctx) => {
      ctx.authorizePath?.(args.path, 'write');
      fs.writeFileSync(args.path, String(args.text));
      return { path: args.path };
    },
    'events.emit': (args) => {
      emit({ type: 'test.event', n: args.n });
      return null;
    },
    fail: () => {
      throw new ApiError('conflict', 'a run is already running');
    },
  };
  const host: ApiHost = {
    methods: Object.keys(methods),
    async call(method, args, context = {}): Promise<CallOutcome> {
      const fn = methods[method];
      if (!fn) return { ok: false, error: { code: 'invalid_argument', message: `unknown method ${method}` } };
      try {
        return { ok: true, result: await fn(args as Record<string, string>, context) };
      } catch (err) {
        if (err instanceof ApiError) return { ok: false, error: err.toData() };
        return { ok: false, error: { code: 'internal', message: String(err) } };
      }
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { host, emit, listenerCount: () => listeners.size };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request (fetch would refuse a forged Host header and normalize paths). */
function request(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; host?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.host ?? '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { Host: `127.0.0.1:${port}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('browser-mode server', () => {
  let tmp: string;
  let root: string;
  let outside: string;
  let server: RunningServer;
  let cookie: string;
  let t: ReturnType<typeof testHost>;

  const call = (method: string, args: unknown, headers: Record<string, string> = {}) =>
    request(server.port, {
      method: 'POST',
      path: `/api/call/${method}`,
      headers: { 'Content-Type': 'application/json', Cookie: cookie, ...headers },
      body: JSON.stringify(args),
    });

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-server-'));
    root = path.join(tmp, 'store');
    outside = path.join(tmp, 'outside');
    fs.mkdirSync(root);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'inside.csv'), 'a,b\n1,2\n');
    fs.writeFileSync(path.join(outside, 'secret.csv'), 'secret\n');
    fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(root, 'link.csv'));
    fs.symlinkSync(outside, path.join(root, 'linkdir'));
    t = testHost();
    // the placeholder page, whether or not the renderer is built (its own tests are the e2e ones)
    const staticDir = fileURLToPath(new URL('../renderer/placeholder', import.meta.url));
    server = await startServer(t.host, { port: 0, staticDir, uploadDir: path.join(tmp, 'uploads'), allowedRoots: [root], heartbeatMs: 200 });
    const first = await request(server.port, { path: `/?token=${server.token}` });
    assert.equal(first.status, 302);
    cookie = String(first.headers['set-cookie']?.[0]).split(';')[0]!;
  });

  after(async () => {
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the tokened URL sets an HttpOnly SameSite=Strict cookie and redirects to / without the token', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    const res = await request(server.port, { path: `/?token=${server.token}` });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/');
    const set = String(res.headers['set-cookie']?.[0]);
    assert.match(set, new RegExp(`^dg_token_${server.port}=`));
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Path=\//);
  });

  test('a call with the cookie works; with the bearer header too', async () => {
    const res = await call('echo', { x: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ok: true, result: { x: 1 } });
    const res2 = await request(server.port, {
      method: 'POST',
      path: '/api/call/echo',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: '[1,2]',
    });
    assert.deepEqual(JSON.parse(res2.body), { ok: true, result: [1, 2] });
  });

  test('errors map to HTTP statuses and stay data', async () => {
    const conflict = await call('fail', {});
    assert.equal(conflict.status, 409);
    assert.deepEqual(JSON.parse(conflict.body), { ok: false, error: { code: 'conflict', message: 'a run is already running' } });
    const unknown = await call('no.such.method', {});
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body).error.code, 'invalid_argument');
    const badJson = await request(server.port, { method: 'POST', path: '/api/call/echo', headers: { 'Content-Type': 'application/json', Cookie: cookie }, body: '{nope' });
    assert.equal(badJson.status, 400);
  });

  test('no token, or a wrong one, is 401', async () => {
    assert.equal((await request(server.port, { path: '/' })).status, 401);
    assert.equal((await call('echo', {}, { Cookie: '' })).status, 401);
    assert.equal((await request(server.port, { path: '/?token=wrong' })).status, 401);
    assert.equal((await call('echo', {}, { Cookie: `dg_token_${server.port}=${'x'.repeat(43)}` })).status, 401);
    assert.equal((await call('echo', {}, { Cookie: '', Authorization: 'Bearer nope' })).status, 401);
  });

  test('a foreign Host header is 403, even with a valid token', async () => {
    const res = await request(server.port, { path: `/?token=${server.token}`, headers: { Host: `evil.example:${server.port}` } });
    assert.equal(res.status, 403);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal((await call('echo', {}, { Host: `evil.example:${server.port}` })).status, 403);
    assert.equal((await call('echo', {}, { Host: '127.0.0.1' })).status, 403);
    assert.equal((await call('echo', {}, { Host: `localhost:${server.port}` })).status, 200);
  });

  test('a POST from a foreign Origin is 403; the app’s own Origin passes', async () => {
    assert.equal((await call('echo', {}, { Origin: 'http://evil.example' })).status, 403);
    assert.equal((await call('echo', {}, { Origin: 'null' })).status, 403);
    assert.equal((await call('echo', {}, { Origin: `http://127.0.0.1:${server.port}` })).status, 200);
    assert.equal((await call('echo', {}, { Origin: `http://localhost:${server.port}` })).status, 200);
  });

  test('only application/json calls (415), at most 1 MiB (413)', async () => {
    const res = await call('echo', {}, { 'Content-Type': 'text/plain' });
    assert.equal(res.status, 415);
    assert.equal((await call('echo', {}, { 'Content-Type': 'application/x-www-form-urlencoded' })).status, 415);
    const big = await request(server.port, {
      method: 'POST',
      path: '/api/call/echo',
      headers: { 'Content-Type': 'application/json', Cookie: cookie },
      body: JSON.stringify({ s: 'x'.repeat(1024 * 1024 + 10) }),
    });
    assert.equal(big.status, 413);
  });

  test('WebSocket: a foreign or missing Origin is refused; the right Origin and cookie receive events', async () => {
    const wsUrl = `ws://127.0.0.1:${server.port}/api/events`;
    const refused = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { headers });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => reject(new Error('the socket opened')));
        ws.on('error', () => {});
      });
    assert.equal(await refused({ Origin: 'http://evil.example', Cookie: cookie }), 403);
    assert.equal(await refused({ Cookie: cookie }), 403); // no Origin and no bearer
    assert.equal(await refused({ Origin: `http://127.0.0.1:${server.port}` }), 401); // no cookie
    assert.equal(await refused({ Origin: `http://127.0.0.1:${server.port}`, Cookie: cookie, Host: `evil.example:${server.port}` }), 403);

    const ws = new WebSocket(wsUrl, { headers: { Origin: `http://127.0.0.1:${server.port}`, Cookie: cookie } });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const got = new Promise<unknown>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
    await call('events.emit', { n: 7 });
    assert.deepEqual(await got, { type: 'test.event', n: 7 });
    // Heartbeats (every 200 ms here) keep a live socket open.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();

    const script = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${server.token}` } });
    await new Promise((resolve, reject) => {
      script.once('open', resolve);
      script.once('error', reject);
    });
    script.close();
  });

  test('an upload is streamed to disk and may then be read by a call; download serves it back', async () => {
    const up = await request(server.port, {
      method: 'POST',
      path: '/api/upload?name=../../my%20data%3B.csv',
      headers: { 'Content-Type': 'application/octet-stream', Cookie: cookie },
      body: Buffer.from('t,v\n0,1\n'),
    });
    assert.equal(up.status, 200);
    const { path: uploaded } = JSON.parse(up.body).result;
    assert.equal(path.basename(uploaded), 'my data_.csv');
    assert.ok(uploaded.startsWith(path.join(tmp, 'uploads') + path.sep));
    const res = await call('files.inspect', { path: uploaded });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body).result, { bytes: 8, head: 't,v\n0,1\n' });
    const dl = await request(server.port, { path: `/api/download?path=${encodeURIComponent(uploaded)}`, headers: { Cookie: cookie } });
    assert.equal(dl.status, 200);
    assert.equal(dl.body, 't,v\n0,1\n');
    assert.match(String(dl.headers['content-disposition']), /attachment/);
    // Uploads need the binary content type too (a form cannot send it without a preflight).
    const form = await request(server.port, { method: 'POST', path: '/api/upload?name=x.csv', headers: { 'Content-Type': 'text/plain', Cookie: cookie }, body: 'x' });
    assert.equal(form.status, 415);
  });

  test('calls may read and write inside the allowed roots', async () => {
    const res = await call('files.inspect', { path: path.join(root, 'inside.csv') });
    assert.equal(res.status, 200);
    const w = await call('files.write', { path: path.join(root, 'export.csv'), text: 'ok' });
    assert.equal(w.status, 200);
    const dl = await request(server.port, { path: `/api/download?path=${encodeURIComponent(path.join(root, 'export.csv'))}`, headers: { Cookie: cookie } });
    assert.equal(dl.body, 'ok');
  });

  test('paths outside the roots, ../ traversal, symlinks out and NUL bytes are forbidden', async () => {
    const forbidden = async (p: string, method = 'files.inspect') => {
      const res = await call(method, { path: p, text: 'x' });
      assert.equal(res.status, 403, `${method} ${p}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'forbidden');
    };
    await forbidden('/etc/passwd');
    await forbidden(path.join(root, '..', 'outside', 'secret.csv'));
    await forbidden(`${root}/../outside/secret.csv`);
    await forbidden(path.join(root, 'link.csv'));
    await forbidden(path.join(root, 'linkdir', 'secret.csv'));
    await forbidden(path.join(root, 'linkdir', 'new.csv'), 'files.write');
    await forbidden(path.join(outside, 'new.csv'), 'files.write');
    await forbidden(`${root}/inside.csv\0`);
    await forbidden('');
    // A dangling link inside the root cannot be written through.
    fs.symlinkSync(path.join(outside, 'planted.csv'), path.join(root, 'dangling.csv'));
    await forbidden(path.join(root, 'dangling.csv'), 'files.write');
    assert.equal(fs.existsSync(path.join(outside, 'planted.csv')), false);
    const dl = await request(server.port, { path: `/api/download?path=${encodeURIComponent('/etc/passwd')}`, headers: { Cookie: cookie } });
    assert.equal(dl.status, 403);
    assert.equal(fs.readFileSync(path.join(outside, 'secret.csv'), 'utf8'), 'secret\n');
  });

  test('static files: the page with its CSP and headers, no traversal, no listing', async () => {
    const page = await request(server.port, { path: '/', headers: { Cookie: cookie } });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /DoppelGANger Studio/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok(csp.includes(`connect-src 'self' ws://127.0.0.1:${server.port} ws://localhost:${server.port}`));
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    const js = await request(server.port, { path: '/placeholder.js', headers: { Cookie: cookie } });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    for (const p of ['/..%2f..%2fetc/passwd', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%5c..%5cetc%5cpasswd', '/%00', '/nothing.js']) {
      const res = await request(server.port, { path: p, headers: { Cookie: cookie } });
      assert.ok(res.status === 404 || res.status === 403 || res.status === 400, `${p}: ${res.status}`);
      assert.doesNotMatch(res.body, /root:/);
    }
    const post = await request(server.port, { method: 'POST', path: '/', headers: { Cookie: cookie } });
    assert.equal(post.status, 405);
  });

  test('the server listens on 127.0.0.1 only', async (ctx) => {
    const addresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === 'IPv4')
      .map((a) => a!.address);
    if (addresses.length === 0) {
      ctx.skip('no non-loopback address on this machine');
      return;
    }
    for (const address of addresses) {
      await assert.rejects(request(server.port, { host: address, path: '/', headers: { Host: `127.0.0.1:${server.port}` } }), /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/);
    }
  });

  test('the placeholder page in Chromium shows app.info and an event from the socket', async (ctx) => {
    const chromium = '/usr/bin/chromium';
    if (!fs.existsSync(chromium)) {
      ctx.skip(`${chromium} is missing (apt-get install chromium)`);
      return;
    }
    const { chromium: pw } = await import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(server.url);
      assert.equal(new URL(page.url()).search, '', 'the token is gone from the address bar');
      await page.getByText("DoppelGANger Studio — the app's screens are being built; the API is reachable").waitFor();
      await page.locator('#info dd', { hasText: 'reference' }).waitFor({ timeout: 10_000 });
      assert.match((await page.locator('#info').textContent()) ?? '', /version\s*test/);
      await page.locator('#events-status[data-state="open"]').waitFor({ timeout: 10_000 });
      t.emit({ type: 'train.progress', runId: 'r1', step: 42 });
      await page.locator('#events li', { hasText: '"step":42' }).waitFor({ timeout: 10_000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});

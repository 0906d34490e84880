// The placeholder page: proves the API is reachable from the page (a call and the event stream), in the
// Electron window (window.dg, from the preload) or in browser mode (HTTP + WebSocket on loopback).
const $ = (id) => document.getElementById(id);

async function call(method, args) {
  if (window.dg) return window.dg.call(method, args);
  const res = await fetch(`/api/call/${encodeURIComponent(method)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(args ?? {}),
  });
  return res.json();
}

function show(value) {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

async function showInfo() {
  const status = $('info-status');
  try {
    const outcome = await call('app.info', {});
    if (!outcome.ok) {
      status.textContent = `app.info failed: ${outcome.error.code}: ${outcome.error.message}`;
      status.className = 'error';
      return;
    }
    status.textContent = 'app.info answered:';
    const dl = $('info');
    const result = outcome.result;
    const entries = result && typeof result === 'object' ? Object.entries(result) : [['result', result]];
    for (const [key, value] of entries) {
      const dt = document.createElement('dt');
      dt.textContent = key;
      const dd = document.createElement('dd');
      dd.textContent = show(value);
      dl.append(dt, dd);
    }
  } catch (err) {
    status.textContent = `app.info failed: ${err}`;
    status.className = 'error';
  }
}

function addEvent(event) {
  const li = document.createElement('li');
  li.textContent = JSON.stringify(event);
  const list = $('events');
  list.append(li);
  while (list.children.length > 50) list.firstElementChild.remove();
}

function listen() {
  const status = $('events-status');
  if (window.dg) {
    window.dg.onEvent(addEvent);
    status.textContent = 'Listening (Electron IPC).';
    return;
  }
  const ws = new WebSocket(`ws://${location.host}/api/events`);
  ws.addEventListener('open', () => {
    status.textContent = 'Connected: events appear below.';
    status.dataset.state = 'open';
  });
  ws.addEventListener('message', (m) => {
    try {
      addEvent(JSON.parse(m.data));
    } catch {
      // not an event
    }
  });
  ws.addEventListener('close', () => {
    status.textContent = 'Disconnected; retrying…';
    status.dataset.state = 'closed';
    setTimeout(listen, 2000);
  });
}

showInfo();
listen();

/**
 * Hash routes (#/project/ID/...): the server serves one page, and a reload or a second window opens the
 * same screen. `route.path` is reactive; `go(path)` navigates.
 */
export interface Route {
  /** The screen's name, from the route table in App.svelte. */
  path: string;
  /** Path segments after the screen's name (ids). */
  params: string[];
}

function parse(): Route {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { path: parts[0] ?? 'projects', params: parts.slice(1) };
}

export const route = $state<Route>(parse());

window.addEventListener('hashchange', () => Object.assign(route, parse()));

export function go(path: string): void {
  location.hash = `#/${path}`;
}

export const href = (path: string) => `#/${path}`;

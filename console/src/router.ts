// A tiny history router under /console: the server answers index.html for every console path,
// so links can be real URLs (open in a new tab, reload, back and forward).
import { useEffect, useState, type MouseEvent } from 'react';

export const BASE = '/console';

export type Route =
  | { page: 'playground' }
  | { page: 'tasks' }
  | { page: 'task'; id: string }
  | { page: 'keys' }
  | { page: 'usage' }
  | { page: 'not-found'; path: string };

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'playground')) return { page: 'playground' };
  if (parts[0] === 'tasks' && parts.length === 1) return { page: 'tasks' };
  if (parts[0] === 'tasks' && parts.length === 2) return { page: 'task', id: parts[1]! };
  if (parts[0] === 'keys' && parts.length === 1) return { page: 'keys' };
  if (parts[0] === 'usage' && parts.length === 1) return { page: 'usage' };
  return { page: 'not-found', path: pathname };
}

export function href(path: string): string {
  return `${BASE}${path}`;
}

export function navigate(path: string): void {
  const url = href(path);
  if (location.pathname + location.search === url) return;
  history.pushState(null, '', url);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return route;
}

/** onClick for an <a href>: plain clicks stay in the app, modified clicks (new tab) are left alone. */
export function linkClick(path: string) {
  return (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(path);
  };
}

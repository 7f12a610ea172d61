import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Path-based routing on the History API; the api answers every console path with index.html. */
export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => { setPath(window.location.pathname); };
    window.addEventListener('popstate', update);
    return () => { window.removeEventListener('popstate', update); };
  }, []);
  return path;
}

/** `/channels/:id` against `/channels/ch_1` → `{id: 'ch_1'}`; null when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(have[i]);
    else if (part !== have[i]) return null;
  }
  return params;
}

/** An ordinary link (middle-click, copy address work) that navigates in place on a plain click. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }): JSX.Element {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return <a href={props.href} class={props.class} aria-current={props.current ? 'page' : undefined} onClick={onClick}>{props.children}</a>;
}

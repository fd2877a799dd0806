// Routing on the path, with the History API: the server answers the app for each of these
// paths (dashboard/src/lib.rs), so a deep link and a reload land on the same page.

import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "channels" }
  | { page: "channel"; id: string }
  | { page: "webhooks"; id: string | null }
  | { page: "tokens" }
  | { page: "not-found" };

export function route(path: string): Route {
  if (path === "/") return { page: "channels" };
  if (path === "/tokens") return { page: "tokens" };
  const channel = /^\/channels\/([A-Za-z0-9_-]+)$/.exec(path);
  if (channel) return { page: "channel", id: channel[1] };
  const webhooks = /^\/webhooks(?:\/([A-Za-z0-9_-]+))?$/.exec(path);
  if (webhooks) return { page: "webhooks", id: webhooks[1] ?? null };
  return { page: "not-found" };
}

const listeners = new Set<() => void>();

export function navigate(path: string) {
  history.pushState(null, "", path);
  listeners.forEach((listener) => listener());
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const changed = () => setPath(location.pathname);
    listeners.add(changed);
    addEventListener("popstate", changed);
    return () => {
      listeners.delete(changed);
      removeEventListener("popstate", changed);
    };
  }, []);
  return path;
}

/** Follows an in-app link without reloading (a modified click opens a tab as usual). */
export function follow(event: MouseEvent, path: string) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  event.preventDefault();
  navigate(path);
}

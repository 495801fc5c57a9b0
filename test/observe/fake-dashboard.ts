// The browser the dashboard script needs, faked for running it with node:vm: elements made on demand by id,
// a window, session storage, location and the globals it calls. Shared by the dashboard script tests.

export interface FakeElement {
  hidden: boolean;
  textContent: string;
  className: string;
  innerHTML: string;
  value: string;
  clientWidth: number;
  addEventListener(): void;
  appendChild(): void;
}

export interface FakeDashboard {
  /** The context to run the script in. */
  context: Record<string, unknown>;
  /** The script's window: it sets window.hopperDashboard. */
  window: Record<string, unknown>;
  /** The element of this id (made on first use). */
  element(id: string): FakeElement;
  /** What the script kept in sessionStorage. */
  stored: Map<string, string>;
}

export function fakeDashboard(page: { hash?: string; fetch: (path: string, init: RequestInit) => Promise<Response>; setTimeout?: (fn: () => void) => unknown; extra?: Record<string, unknown> }): FakeDashboard {
  const elements = new Map<string, FakeElement>();
  const element = (id: string): FakeElement => {
    let e = elements.get(id);
    if (!e) elements.set(id, (e = { hidden: true, textContent: '', className: '', innerHTML: '', value: '', clientWidth: 300, addEventListener: () => undefined, appendChild: () => undefined }));
    return e;
  };
  const stored = new Map<string, string>();
  const window: Record<string, unknown> = { innerWidth: 1000, addEventListener: () => undefined };
  const context: Record<string, unknown> = {
    window,
    document: { getElementById: element, querySelector: () => ({}), createElement: () => element('li') },
    sessionStorage: { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => stored.set(k, v) },
    location: { hash: page.hash ?? '', pathname: '/', search: '' },
    history: { replaceState: () => undefined },
    URLSearchParams,
    Promise,
    Date,
    Math,
    Object,
    String,
    Error,
    isFinite,
    decodeURIComponent,
    setTimeout: page.setTimeout ?? (() => undefined),
    fetch: page.fetch,
    ...page.extra,
  };
  return { context, window, element, stored };
}

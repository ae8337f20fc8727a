// Who is logged in, and how requests prove it. THE seam for authentication: the browser holds a
// cookie session from POST /api/v1/auth/session — the access token (HttpOnly, sent by the
// browser with every same-origin request, <img>, <video> and EventSource included), the refresh
// token (HttpOnly, /api/v1/auth only) and a readable CSRF cookie that unsafe requests echo in
// X-CSRF-Token (double submit). No token is ever visible to scripts, storage or URLs.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type SessionOut = components["schemas"]["SessionOut"];

export type AuthState = "anonymous" | "authenticated";

export interface Session {
  /** The current state; changes are announced to `subscribe` listeners. */
  state(): AuthState;
  subscribe(listener: () => void): () => void;
  /** Throws `LoginError` when the credentials are refused. */
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** Adds the credentials to an outgoing API request (here: the CSRF header on unsafe methods). */
  authorize(request: Request): Request;
  /** Tries to renew expired credentials once; false when the user must log in again. */
  refresh(): Promise<boolean>;
  /** The credentials were refused (401 after a refresh): back to the login page. */
  expire(): void;
  /** URL for an EventSource (same origin: the session cookie goes along, nothing in the URL). */
  sseUrl(path: string): string;
}

export class LoginError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "LoginError";
  }
}

export const CSRF_COOKIE = "aima_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The cookies scripts may see (the CSRF one); HttpOnly cookies stay with the browser. */
export interface CookieJar {
  get(name: string): string | null;
  remove(name: string): void;
}

export function documentCookies(doc: Document | undefined = globalThis.document): CookieJar {
  return {
    get(name) {
      for (const part of (doc?.cookie ?? "").split(";")) {
        const [key, ...rest] = part.trim().split("=");
        if (key === name) return decodeURIComponent(rest.join("="));
      }
      return null;
    },
    remove(name) {
      if (doc) doc.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict`;
    },
  };
}

export interface CookieSessionOptions {
  fetch?: typeof fetch;
  cookies?: CookieJar;
  baseUrl?: string;
}

export function createCookieSession(options: CookieSessionOptions = {}): Session {
  const cookies = options.cookies ?? documentCookies();
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  // the auth endpoints use a bare client: no retry loop around login, refresh and logout
  const auth = createClient<paths>({
    baseUrl,
    fetch: (request: Request) => (options.fetch ?? globalThis.fetch)(request),
  });
  const listeners = new Set<() => void>();
  // the readable CSRF cookie lives as long as the refresh token: it says a session may exist
  let csrf: string | null = cookies.get(CSRF_COOKIE);
  let state: AuthState = csrf ? "authenticated" : "anonymous";
  let refreshing: Promise<boolean> | null = null;

  function set(next: AuthState, token: string | null): void {
    csrf = token;
    if (next === "anonymous") cookies.remove(CSRF_COOKIE);
    if (next === state) return;
    state = next;
    listeners.forEach((listener) => listener());
  }

  /** The cookie wins (another tab may have rotated it); the login answer is the fallback. */
  const currentCsrf = () => cookies.get(CSRF_COOKIE) ?? csrf ?? "";

  return {
    state: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async login(username, password) {
      const { data, response } = await auth.POST("/api/v1/auth/session", {
        body: { username, password },
      });
      if (!data) throw new LoginError(response.status, `login failed (HTTP ${response.status})`);
      set("authenticated", data.csrf_token);
    },
    async logout() {
      const token = currentCsrf();
      // revoke the refresh token and clear the cookies; logged out locally whatever the answer
      await auth
        .POST("/api/v1/auth/logout", { headers: { [CSRF_HEADER]: token } })
        .catch(() => undefined);
      set("anonymous", null);
    },
    authorize(request) {
      if (!SAFE_METHODS.has(request.method.toUpperCase()) && state === "authenticated") {
        request.headers.set(CSRF_HEADER, currentCsrf());
      }
      return request;
    },
    refresh() {
      if (state !== "authenticated") return Promise.resolve(false);
      refreshing ??= auth
        .POST("/api/v1/auth/session/refresh", { headers: { [CSRF_HEADER]: currentCsrf() } })
        .then(({ data }) => {
          if (state !== "authenticated") return false; // logged out meanwhile
          if (data) set("authenticated", data.csrf_token);
          return data !== undefined;
        })
        .catch(() => false)
        .finally(() => {
          refreshing = null;
        });
      return refreshing;
    },
    expire() {
      set("anonymous", null);
    },
    sseUrl(path) {
      return baseUrl ? new URL(path, baseUrl).href : path;
    },
  };
}

/** The API lives on the origin that served the app (absolute, so Request() accepts it anywhere). */
export function defaultBaseUrl(): string {
  return globalThis.location?.origin ?? "";
}

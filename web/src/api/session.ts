// Who is logged in, and how requests prove it. THE seam for authentication: today a bearer
// token pair from POST /api/v1/auth/login kept in memory + sessionStorage; a cookie session
// replaces `createTokenSession` with an implementation of the same `Session` interface
// (authorize() then adds nothing, login/logout call the cookie endpoints, sseUrl() drops the
// query token) and nothing else in the app changes.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type TokenOut = components["schemas"]["TokenOut"];

export type AuthState = "anonymous" | "authenticated";

export interface Session {
  /** The current state; changes are announced to `subscribe` listeners. */
  state(): AuthState;
  subscribe(listener: () => void): () => void;
  /** Throws `LoginError` when the credentials are refused. */
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** Adds the credentials to an outgoing API request. */
  authorize(request: Request): Request;
  /** Tries to renew expired credentials once; false when the user must log in again. */
  refresh(): Promise<boolean>;
  /** The credentials were refused (401 after a refresh): back to the login page. */
  expire(): void;
  /** URL for an EventSource, which cannot send headers. */
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

const STORAGE_KEY = "aima.tokens";

interface Tokens {
  access: string;
  refresh: string;
}

function readTokens(storage: Storage | undefined): Tokens | null {
  try {
    const raw = storage?.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Tokens>;
    return typeof parsed.access === "string" && typeof parsed.refresh === "string"
      ? { access: parsed.access, refresh: parsed.refresh }
      : null;
  } catch {
    return null;
  }
}

export interface TokenSessionOptions {
  fetch?: typeof fetch;
  storage?: Storage;
  baseUrl?: string;
}

export function createTokenSession(options: TokenSessionOptions = {}): Session {
  const storage = options.storage ?? globalThis.sessionStorage;
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  // unauthenticated calls (login, refresh, logout) use a bare client: no auth, no retry loop
  const auth = createClient<paths>({
    baseUrl,
    fetch: (request: Request) => (options.fetch ?? globalThis.fetch)(request),
  });
  const listeners = new Set<() => void>();
  let tokens = readTokens(storage);
  let refreshing: Promise<boolean> | null = null;

  function set(next: Tokens | null): void {
    const changed = (tokens === null) !== (next === null);
    tokens = next;
    if (next) storage?.setItem(STORAGE_KEY, JSON.stringify(next));
    else storage?.removeItem(STORAGE_KEY);
    if (changed) listeners.forEach((listener) => listener());
  }

  const fromPair = (pair: TokenOut): Tokens => ({
    access: pair.access_token,
    refresh: pair.refresh_token,
  });

  return {
    state: () => (tokens ? "authenticated" : "anonymous"),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async login(username, password) {
      const { data, response } = await auth.POST("/api/v1/auth/login", {
        body: { username, password },
      });
      if (!data) throw new LoginError(response.status, `login failed (HTTP ${response.status})`);
      set(fromPair(data));
    },
    async logout() {
      const current = tokens;
      set(null);
      if (current) {
        // revoke the refresh token; the user is logged out locally whatever the answer
        await auth
          .POST("/api/v1/auth/logout", { body: { refresh_token: current.refresh } })
          .catch(() => undefined);
      }
    },
    authorize(request) {
      if (tokens) request.headers.set("Authorization", `Bearer ${tokens.access}`);
      return request;
    },
    refresh() {
      if (!tokens) return Promise.resolve(false);
      const refreshToken = tokens.refresh;
      refreshing ??= auth
        .POST("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } })
        .then(({ data }) => {
          if (tokens?.refresh !== refreshToken) return tokens !== null; // logged out meanwhile
          set(data ? fromPair(data) : null);
          return data !== undefined;
        })
        .catch(() => false)
        .finally(() => {
          refreshing = null;
        });
      return refreshing;
    },
    expire() {
      set(null);
    },
    sseUrl(path) {
      const url = new URL(path, baseUrl || "http://localhost");
      if (tokens) url.searchParams.set("access_token", tokens.access);
      return baseUrl ? url.href : url.pathname + url.search;
    },
  };
}

/** The API lives on the origin that served the app (absolute, so Request() accepts it anywhere). */
export function defaultBaseUrl(): string {
  return globalThis.location?.origin ?? "";
}

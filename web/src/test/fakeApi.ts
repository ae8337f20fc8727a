// An in-memory stand-in for the AIMA auth API, at the fetch boundary.
export interface FakeUser {
  username: string;
  password: string;
  role: string;
}

export interface FakeServer {
  fetch: typeof fetch;
  calls: string[];
  /** Make every issued access token invalid (as if it expired). */
  expireTokens(): void;
  refreshWorks: boolean;
  /** The browser's HttpOnly session cookies (aima_access, aima_refresh); the readable
   * aima_csrf cookie goes to document.cookie like a real browser would keep it. */
  cookies: Map<string, string>;
}

const CSRF_COOKIE = "aima_csrf";
const readCsrf = () =>
  document.cookie
    .split(";")
    .map((part) => part.trim().split("="))
    .find(([key]) => key === CSRF_COOKIE)?.[1] ?? null;

/** Extra endpoints a test serves for a signed-in user: a Response, or null for "not found". */
export type FakeRoutes = (request: Request, path: string, user: FakeUser) => Promise<Response | null> | Response | null;

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export function fakeServer(users: FakeUser[], routes?: FakeRoutes): FakeServer {
  const access = new Map<string, FakeUser>();
  const refresh = new Map<string, FakeUser>();
  let n = 0;
  const issue = (user: FakeUser) => {
    n += 1;
    access.set(`a${n}`, user);
    refresh.set(`r${n}`, user);
    return { access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer", expires_in: 900 };
  };
  const cookies = new Map<string, string>();
  const startSession = (user: FakeUser) => {
    const pair = issue(user);
    const csrf = `csrf${n}`;
    cookies.set("aima_access", pair.access_token);
    cookies.set("aima_refresh", pair.refresh_token);
    document.cookie = `${CSRF_COOKIE}=${csrf}; Path=/`;
    const session = { user_id: `usr_${user.username}`, username: user.username, role: user.role };
    return json(200, { ...session, csrf_token: csrf, expires_in: 900 });
  };
  const csrfOk = (request: Request) => {
    const sent = request.headers.get("X-CSRF-Token");
    return sent !== null && sent === readCsrf();
  };
  const server: FakeServer = {
    cookies,
    calls: [],
    refreshWorks: true,
    expireTokens: () => access.clear(),
    fetch: async (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const path = new URL(request.url, "http://localhost").pathname;
      server.calls.push(`${request.method} ${path}`);
      if (request.method === "POST" && path === "/api/v1/auth/login") {
        const body = (await request.json()) as { username: string; password: string };
        const user = users.find((u) => u.username === body.username && u.password === body.password);
        return user ? json(200, issue(user)) : json(401, { error: { code: "unauthorized" } });
      }
      if (request.method === "POST" && path === "/api/v1/auth/refresh") {
        const body = (await request.json()) as { refresh_token: string };
        const user = refresh.get(body.refresh_token);
        if (!user || !server.refreshWorks) return json(401, { error: { code: "unauthorized" } });
        refresh.delete(body.refresh_token);
        return json(200, issue(user));
      }
      if (request.method === "POST" && path === "/api/v1/auth/session") {
        const body = (await request.json()) as { username: string; password: string };
        const user = users.find((u) => u.username === body.username && u.password === body.password);
        return user ? startSession(user) : json(401, { error: { code: "unauthorized" } });
      }
      if (request.method === "POST" && path === "/api/v1/auth/session/refresh") {
        const token = cookies.get("aima_refresh");
        const user = token ? refresh.get(token) : undefined;
        if (!user || !server.refreshWorks) return json(401, { error: { code: "unauthorized" } });
        if (!csrfOk(request)) return json(403, { error: { code: "csrf_failed" } });
        refresh.delete(token ?? "");
        return startSession(user);
      }
      if (request.method === "POST" && path === "/api/v1/auth/logout") {
        if (cookies.has("aima_refresh") && !csrfOk(request)) {
          return json(403, { error: { code: "csrf_failed" } });
        }
        cookies.clear();
        document.cookie = `${CSRF_COOKIE}=; Max-Age=0; Path=/`;
        return new Response(null, { status: 204 });
      }
      const bearer = request.headers.get("Authorization")?.replace(/^Bearer /, "");
      if (bearer === undefined && cookies.has("aima_access")) {
        const unsafe = !["GET", "HEAD", "OPTIONS"].includes(request.method);
        if (unsafe && !csrfOk(request)) return json(403, { error: { code: "csrf_failed" } });
      }
      const token = bearer ?? cookies.get("aima_access") ?? "";
      const user = access.get(token);
      if (!user) return json(401, { error: { code: "unauthorized" } });
      if (request.method === "GET" && path === "/api/v1/auth/me") {
        return json(200, { user_id: `usr_${user.username}`, username: user.username, role: user.role });
      }
      const answer = routes ? await routes(request, path, user) : null;
      if (answer) return answer;
      return json(404, { error: { code: "not_found" } });
    },
  };
  return server;
}

export const USERS: FakeUser[] = [
  { username: "admin", password: "admin-pw", role: "admin" },
  { username: "vera", password: "viewer-pw", role: "viewer" },
  { username: "uli", password: "uploader-pw", role: "uploader" },
  { username: "audrey", password: "auditor-pw", role: "auditor" },
  { username: "ana", password: "analyst-pw", role: "analyst" },
];

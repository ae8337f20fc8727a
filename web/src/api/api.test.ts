import { describe, expect, it, vi } from "vitest";
import { fakeServer, USERS } from "../test/fakeApi";
import { createApiClient } from "./client";
import { followJob, type StreamState } from "./events";
import { can, canAny } from "./permissions";
import { createCookieSession, documentCookies } from "./session";

const csrfCookie = () => documentCookies().get("aima_csrf");

describe("cookie session + typed client", () => {
  it("logs in with the session endpoint and keeps no token where scripts can read it", async () => {
    const server = fakeServer(USERS);
    const session = createCookieSession({ fetch: server.fetch });
    expect(session.state()).toBe("anonymous");
    await session.login("admin", "admin-pw");
    expect(session.state()).toBe("authenticated");
    expect(server.calls).toEqual(["POST /api/v1/auth/session"]);
    expect(csrfCookie()).toMatch(/^csrf/);
    expect(sessionStorage.length).toBe(0);
    expect(localStorage.length).toBe(0);
    expect(document.cookie).not.toContain("a1"); // the access token stays HttpOnly
  });

  it("sends X-CSRF-Token on unsafe methods only", async () => {
    const server = fakeServer(USERS);
    const seen: Array<[string, string | null]> = [];
    const recording: typeof fetch = (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init);
      seen.push([request.method, request.headers.get("X-CSRF-Token")]);
      return server.fetch(request);
    };
    const session = createCookieSession({ fetch: server.fetch });
    const client = createApiClient(session, { fetch: recording });
    await session.login("admin", "admin-pw");
    await client.GET("/api/v1/auth/me");
    await client.POST("/api/v1/jobs/{job_id}/cancel", { params: { path: { job_id: "j1" } } });
    expect(seen).toEqual([
      ["GET", null],
      ["POST", csrfCookie()],
    ]);
  });

  it("renews an expired session with one refresh call for concurrent requests", async () => {
    const server = fakeServer(USERS);
    const session = createCookieSession({ fetch: server.fetch });
    const client = createApiClient(session, { fetch: server.fetch });
    await session.login("admin", "admin-pw");
    const before = csrfCookie();
    server.expireTokens();
    const [a, b] = await Promise.all([client.GET("/api/v1/auth/me"), client.GET("/api/v1/auth/me")]);
    expect(a.data?.username).toBe("admin");
    expect(b.data?.username).toBe("admin");
    expect(server.calls.filter((c) => c === "POST /api/v1/auth/session/refresh")).toHaveLength(1);
    expect(session.state()).toBe("authenticated");
    expect(csrfCookie()).not.toBe(before); // rotated
  });

  it("ends the session when the refresh is refused", async () => {
    const server = fakeServer(USERS);
    const session = createCookieSession({ fetch: server.fetch });
    const client = createApiClient(session, { fetch: server.fetch });
    await session.login("vera", "viewer-pw");
    const listener = vi.fn();
    session.subscribe(listener);
    server.expireTokens();
    server.refreshWorks = false;
    const { response } = await client.GET("/api/v1/auth/me");
    expect(response.status).toBe(401);
    expect(session.state()).toBe("anonymous");
    expect(listener).toHaveBeenCalledTimes(1);
    expect(csrfCookie()).toBeNull();
  });

  it("starts signed in after a reload while the CSRF cookie is there, and logs out with it", async () => {
    const server = fakeServer(USERS);
    await createCookieSession({ fetch: server.fetch }).login("uli", "uploader-pw");
    const reloaded = createCookieSession({ fetch: server.fetch });
    expect(reloaded.state()).toBe("authenticated");
    await reloaded.logout();
    expect(reloaded.state()).toBe("anonymous");
    expect(server.cookies.size).toBe(0); // the fake server accepted the CSRF header and cleared
    expect(csrfCookie()).toBeNull();
    expect(createCookieSession({ fetch: server.fetch }).state()).toBe("anonymous");
  });
});

type FakeSource = EventTarget & { close: () => void; readyState: number; url: string };

function fakeSources() {
  const opened: FakeSource[] = [];
  const make = (url: string) => {
    const source = new EventTarget() as FakeSource;
    source.url = url;
    source.readyState = 0;
    source.close = vi.fn(() => {
      source.readyState = 2;
    });
    opened.push(source);
    return source as unknown as EventSource;
  };
  return { opened, make };
}

describe("job events", () => {
  async function signedIn() {
    const server = fakeServer(USERS);
    const session = createCookieSession({ fetch: server.fetch, baseUrl: "http://aima.test" });
    await session.login("admin", "admin-pw");
    return { server, session };
  }

  it("follows a job on the same origin without a token in the URL until it ends", async () => {
    const { session } = await signedIn();
    const { opened, make } = fakeSources();
    const progress = vi.fn();
    const end = vi.fn();
    const states: StreamState[] = [];
    followJob(session, "job_1", {
      onProgress: progress,
      onEnd: end,
      onConnection: (s) => states.push(s),
    }, { makeSource: make });
    expect(opened[0]?.url).toBe("http://aima.test/api/v1/jobs/job_1/events");
    opened[0]?.dispatchEvent(new Event("open"));
    const data = { id: "job_1", state: "running", progress: 0.5, message: "ocr", error: null };
    opened[0]?.dispatchEvent(new MessageEvent("progress", { data: JSON.stringify(data) }));
    opened[0]?.dispatchEvent(new MessageEvent("end", { data: JSON.stringify({ id: "job_1", state: "succeeded" }) }));
    expect(progress).toHaveBeenCalledWith(data);
    expect(end).toHaveBeenCalledWith({ id: "job_1", state: "succeeded" });
    expect(opened[0]?.close).toHaveBeenCalled();
    expect(states).toEqual(["connecting", "open", "closed"]);
  });

  it("shows a dropped connection as reconnecting while the browser retries", async () => {
    const { session } = await signedIn();
    const { opened, make } = fakeSources();
    const states: StreamState[] = [];
    followJob(session, "job_1", { onProgress: vi.fn(), onConnection: (s) => states.push(s) }, { makeSource: make });
    opened[0]?.dispatchEvent(new Event("open"));
    opened[0]?.dispatchEvent(new Event("error")); // readyState CONNECTING: the browser retries
    opened[0]?.dispatchEvent(new Event("open"));
    expect(states).toEqual(["connecting", "open", "reconnecting", "open"]);
    expect(opened).toHaveLength(1);
  });

  it("renews the session and opens a new stream when the server refuses it", async () => {
    const { server, session } = await signedIn();
    const { opened, make } = fakeSources();
    const onError = vi.fn();
    followJob(session, "job_1", { onProgress: vi.fn(), onError }, {
      makeSource: make,
      maxReopens: 1,
      reopenDelayMs: () => 0,
    });
    server.expireTokens();
    const first = opened[0];
    if (!first) throw new Error("no stream");
    first.readyState = 2; // refused (401): EventSource gives up
    first.dispatchEvent(new Event("error"));
    await vi.waitFor(() => expect(opened).toHaveLength(2));
    expect(server.calls).toContain("POST /api/v1/auth/session/refresh");
    const second = opened[1];
    if (!second) throw new Error("no second stream");
    second.readyState = 2;
    second.dispatchEvent(new Event("error"));
    await vi.waitFor(() => expect(onError).toHaveBeenCalledTimes(1));
    expect(opened).toHaveLength(2);
  });

  it("stops following on request", async () => {
    const { session } = await signedIn();
    const { opened, make } = fakeSources();
    const stop = followJob(session, "job_1", { onProgress: vi.fn() }, { makeSource: make });
    stop();
    expect(opened[0]?.close).toHaveBeenCalled();
  });
});

describe("permissions table (generated from the API's roles)", () => {
  it("answers per role, and nothing for unknown roles", () => {
    expect(can("admin", "users:manage")).toBe(true);
    expect(can("viewer", "users:manage")).toBe(false);
    expect(can("viewer", "persons:read")).toBe(true);
    expect(canAny("auditor", ["media:upload", "audit:read"])).toBe(true);
    expect(can("root", "media:read")).toBe(false);
    expect(can(undefined, "media:read")).toBe(false);
  });
});

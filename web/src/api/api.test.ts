import { describe, expect, it, vi } from "vitest";
import { fakeServer, USERS } from "../test/fakeApi";
import { createApiClient } from "./client";
import { followJob } from "./events";
import { can, canAny } from "./permissions";
import { createTokenSession } from "./session";

function memoryStorage(): Storage {
  const data = new Map<string, string>();
  return {
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    getItem: (key) => data.get(key) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (key) => void data.delete(key),
    setItem: (key, value) => void data.set(key, value),
  };
}

describe("token session + typed client", () => {
  it("renews expired tokens with one refresh call for concurrent requests", async () => {
    const server = fakeServer(USERS);
    const session = createTokenSession({ fetch: server.fetch, storage: memoryStorage() });
    const client = createApiClient(session, { fetch: server.fetch });
    await session.login("admin", "admin-pw");
    server.expireTokens();
    const [a, b] = await Promise.all([client.GET("/api/v1/auth/me"), client.GET("/api/v1/auth/me")]);
    expect(a.data?.username).toBe("admin");
    expect(b.data?.username).toBe("admin");
    expect(server.calls.filter((c) => c === "POST /api/v1/auth/refresh")).toHaveLength(1);
    expect(session.state()).toBe("authenticated");
  });

  it("ends the session when the refresh is refused", async () => {
    const server = fakeServer(USERS);
    const session = createTokenSession({ fetch: server.fetch, storage: memoryStorage() });
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
  });

  it("keeps the tokens across a reload in the given storage only", async () => {
    const server = fakeServer(USERS);
    const storage = memoryStorage();
    await createTokenSession({ fetch: server.fetch, storage }).login("uli", "uploader-pw");
    expect(createTokenSession({ fetch: server.fetch, storage }).state()).toBe("authenticated");
    expect(createTokenSession({ fetch: server.fetch, storage: memoryStorage() }).state()).toBe("anonymous");
  });
});

describe("job events", () => {
  it("follows a job through the session's SSE URL until it ends", async () => {
    const server = fakeServer(USERS);
    const session = createTokenSession({
      fetch: server.fetch,
      storage: memoryStorage(),
      baseUrl: "http://aima.test",
    });
    await session.login("admin", "admin-pw");
    const source = new EventTarget() as EventTarget & { close: () => void; onerror: unknown };
    source.close = vi.fn();
    let opened = "";
    const progress = vi.fn();
    const end = vi.fn();
    followJob(session, "job_1", { onProgress: progress, onEnd: end }, (url) => {
      opened = url;
      return source as unknown as EventSource;
    });
    expect(opened).toBe("http://aima.test/api/v1/jobs/job_1/events?access_token=a1");
    const data = { id: "job_1", state: "running", progress: 0.5, message: "ocr", error: null };
    source.dispatchEvent(new MessageEvent("progress", { data: JSON.stringify(data) }));
    source.dispatchEvent(new MessageEvent("end", { data: JSON.stringify({ id: "job_1", state: "succeeded" }) }));
    expect(progress).toHaveBeenCalledWith(data);
    expect(end).toHaveBeenCalledWith({ id: "job_1", state: "succeeded" });
    expect(source.close).toHaveBeenCalled();
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

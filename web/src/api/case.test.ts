import { afterEach, describe, expect, it } from "vitest";
import { fakeServer, USERS } from "../test/fakeApi";
import { CASE_HEADER, caseProblem, createCaseStore, withCase } from "./case";
import { createApi } from "./context";

afterEach(() => sessionStorage.clear());

describe("current case", () => {
  it("is remembered in sessionStorage for the browser session and announced", () => {
    const store = createCaseStore(sessionStorage);
    const seen: (string | null)[] = [];
    store.subscribe(() => seen.push(store.get()));
    store.set("c1");
    expect(createCaseStore(sessionStorage).get()).toBe("c1"); // a reload finds it again
    store.set(null);
    expect(sessionStorage.length).toBe(0);
    expect(seen).toEqual(["c1", null]);
  });

  it("goes out as X-AIMA-Case on every API request, unless the request names its own", async () => {
    const server = fakeServer(USERS);
    const headers: (string | null)[] = [];
    const recording: typeof fetch = (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init);
      headers.push(request.headers.get(CASE_HEADER));
      return server.fetch(request);
    };
    const api = createApi({ fetch: recording, cases: createCaseStore(sessionStorage) });
    await api.session.login("admin", "admin-pw");
    await api.client.GET("/api/v1/auth/me");
    api.cases.set("case-1");
    await api.client.GET("/api/v1/auth/me");
    await api.client.GET("/api/v1/auth/me", { headers: { [CASE_HEADER]: "other" } });
    expect(headers.slice(-3)).toEqual([null, "case-1", "other"]);
  });

  it("names the case in links the browser follows", () => {
    expect(withCase("/api/v1/x?format=md", "c 1")).toBe("/api/v1/x?format=md&case=c%201");
    expect(withCase("/api/v1/x", "c1")).toBe("/api/v1/x?case=c1");
    expect(withCase("/api/v1/x", null)).toBe("/api/v1/x");
  });

  it("tells the API's case refusals from other errors", () => {
    const body = (code: string, message: string, details?: object) => ({ error: { code, message, details } });
    expect(caseProblem(body("bad_request", "face search needs an open case", { purpose: "face_search" }))).toBe(
      "missing",
    );
    expect(caseProblem(body("conflict", "case c1 is closed", { case: "c1", state: "closed" }))).toBe("closed");
    expect(caseProblem(body("forbidden", "you are not a member of case c1"))).toBe("refused");
    expect(caseProblem(body("forbidden", "the role lacks search:biometric"))).toBeNull();
    expect(caseProblem(body("bad_request", "not an image"))).toBeNull();
    expect(caseProblem(new Error("x"))).toBeNull();
  });
});

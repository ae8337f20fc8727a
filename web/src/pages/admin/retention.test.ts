import { describe, expect, it } from "vitest";
import { draftOf, draftProblem, EMPTY_DRAFT, type Rule, ruleBody, runTotals } from "./retention";

describe("retention rule drafts", () => {
  it("checks the library name and the days as the API does", () => {
    expect(draftProblem(EMPTY_DRAFT)).toBeNull();
    expect(draftProblem({ ...EMPTY_DRAFT, library: "Cams" })?.field).toBe("library");
    expect(draftProblem({ ...EMPTY_DRAFT, library: "" })?.field).toBe("library");
    expect(draftProblem({ ...EMPTY_DRAFT, library: "a".repeat(65) })?.field).toBe("library");
    expect(draftProblem({ ...EMPTY_DRAFT, afterDays: "" })?.field).toBe("afterDays");
    expect(draftProblem({ ...EMPTY_DRAFT, afterDays: 1.5 })?.field).toBe("afterDays");
    expect(draftProblem({ ...EMPTY_DRAFT, afterDays: 36501 })?.field).toBe("afterDays");
    expect(draftProblem({ ...EMPTY_DRAFT, afterDays: "0" })).toBeNull();
  });

  it("becomes the API's body; every kind is null", () => {
    expect(ruleBody({ library: " cams ", kind: "", action: "delete_media", afterDays: "7", enabled: false })).toEqual({
      library: "cams",
      media_kind: null,
      action: "delete_media",
      after_days: 7,
      enabled: false,
    });
    expect(() => ruleBody({ ...EMPTY_DRAFT, library: "no spaces" })).toThrow(/library/);
  });

  it("round-trips a stored rule", () => {
    const rule: Rule = {
      id: "ret_1",
      library: "cams",
      media_kind: "video",
      action: "delete_raw",
      after_days: 30,
      enabled: true,
      created_by: "api:admin",
      created_at: "2026-12-01T00:00:00Z",
      last_run_at: null,
      last_run_count: 0,
    };
    expect(ruleBody(draftOf(rule))).toEqual({ library: "cams", media_kind: "video", action: "delete_raw", after_days: 30, enabled: true });
  });

  it("adds up a run", () => {
    const run = { library: "a", media_kind: null, action: "delete_raw", after_days: 1, dry_run: true, cutoff: "2026-12-01T00:00:00Z" };
    expect(
      runTotals([
        { ...run, rule_id: "r1", count: 2, media: ["m1", "m2"], skipped: ["m3"] },
        { ...run, rule_id: "r2", count: 1, media: ["m4"], skipped: [] },
      ]),
    ).toEqual({ media: 3, skipped: 1, rules: 2 });
  });
});

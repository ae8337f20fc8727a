import { describe, expect, it } from "vitest";
import { draftErrors, formatBytes, formatSeconds, type Quota, quotaBody, quotaDraft, quotaRows } from "./quotas";

const quota: Quota = {
  username: "uli",
  user_id: "usr_1",
  limits: { uploads_per_day: 10, bytes_per_day: 2_000_000_000, gpu_seconds_per_month: 0, money_per_month: 5, requests_per_minute: 600 },
  overridden: ["uploads_per_day", "bytes_per_day"],
  usage: {
    uploads_today: 12,
    bytes_today: 500_000_000,
    gpu_seconds_month: 30,
    money_month: 1.25,
    day_resets_at: "2026-12-05T00:00:00Z",
    month_resets_at: "2027-01-01T00:00:00Z",
  },
  remaining: { uploads_per_day: 0, bytes_per_day: 1_500_000_000, gpu_seconds_per_month: null, money_per_month: 3.75, requests_per_minute: null },
  currency: "EUR",
};

describe("quotaRows", () => {
  it("puts usage against each limit; 0 is unlimited; requests have no usage", () => {
    const rows = Object.fromEntries(quotaRows(quota).map((r) => [r.key, r]));
    expect(rows.uploads_per_day).toMatchObject({ used: 12, limit: 10, fraction: 1, overridden: true, resetsAt: "2026-12-05T00:00:00Z" });
    expect(rows.bytes_per_day?.fraction).toBe(0.25);
    expect(rows.gpu_seconds_per_month).toMatchObject({ unlimited: true, fraction: null, overridden: false });
    expect(rows.money_per_month?.fraction).toBe(0.25);
    expect(rows.requests_per_minute).toMatchObject({ used: null, fraction: null, resetsAt: null });
  });
});

describe("formatting", () => {
  it("writes sizes in decimal units and GPU time in s, min or h", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1_234_567)).toBe("1.23 MB");
    expect(formatBytes(2_000_000_000)).toBe("2 GB");
    expect(formatSeconds(42)).toBe("42 s");
    expect(formatSeconds(90)).toBe("1.5 min");
    expect(formatSeconds(7200)).toBe("2 h");
  });
});

describe("the quota form", () => {
  it("shows overrides (bytes in MB) and leaves defaults empty", () => {
    expect(quotaDraft(quota)).toEqual({
      uploads_per_day: "10",
      bytes_per_day: "2000",
      gpu_seconds_per_month: "",
      money_per_month: "",
      requests_per_minute: "",
    });
  });

  it("sends every quota: null for the default, MB as bytes, decimal commas accepted", () => {
    expect(
      quotaBody({ uploads_per_day: "3", bytes_per_day: "1,5", gpu_seconds_per_month: "", money_per_month: "2.5", requests_per_minute: "0" }),
    ).toEqual({ uploads_per_day: 3, bytes_per_day: 1_500_000, gpu_seconds_per_month: null, money_per_month: 2.5, requests_per_minute: 0 });
  });

  it("refuses negative numbers, words and fractions of uploads or requests", () => {
    const draft = { uploads_per_day: "1.5", bytes_per_day: "0.5", gpu_seconds_per_month: "-1", money_per_month: "many", requests_per_minute: "10" };
    expect(draftErrors(draft)).toEqual(["uploads_per_day", "gpu_seconds_per_month", "money_per_month"]);
    expect(() => quotaBody(draft)).toThrow(/uploads_per_day/);
  });
});

import { describe, expect, it } from "vitest";
import { downloadName, isReceipt, type Receipt, reasonProblem, receiptTotals } from "./erasure";

const receipt: Receipt = {
  format: 1,
  kind: "person_erasure",
  id: "rcp_1",
  created_at: "2026-12-04T03:00:00+00:00",
  actor: "api:admin",
  subject_hash: "ab".repeat(32),
  key_id: "k1",
  with_media: false,
  stores: [
    { store: "persons", count: 1, sha256: "x" },
    { store: "observations", count: 3, sha256: "y" },
    { store: "blobs", count: 2, sha256: "z", failed: 1 },
  ],
  signature: "sig",
};

describe("reasonProblem", () => {
  it("needs 3 to 1000 characters, trimmed", () => {
    expect(reasonProblem("  ab  ", [])).toBe("short");
    expect(reasonProblem("x".repeat(1001), [])).toBe("long");
    expect(reasonProblem("DSR 2026-17", [])).toBeNull();
  });

  it("refuses the person's name in any case, ignores unnamed persons", () => {
    expect(reasonProblem("request of Ada Lovelace", ["ada lovelace"])).toBe("name");
    expect(reasonProblem("request of ADA LOVELACE", ["Ada Lovelace"])).toBe("name");
    expect(reasonProblem("request 17", ["Ada Lovelace", null, "  "])).toBeNull();
  });
});

describe("receipts", () => {
  it("recognises a receipt and nothing else", () => {
    expect(isReceipt(receipt)).toBe(true);
    expect(isReceipt({ ...receipt, stores: [{ store: "persons" }] })).toBe(false);
    expect(isReceipt({ error: { code: "conflict" } })).toBe(false);
    expect(isReceipt(null)).toBe(false);
  });

  it("adds up the stores and names those with failures", () => {
    expect(receiptTotals(receipt)).toEqual({ removed: 6, failed: ["blobs"] });
  });
});

describe("downloadName", () => {
  it("takes a safe file name from Content-Disposition, else the fallback", () => {
    expect(downloadName('attachment; filename="subject-per_1.zip"', "f.zip")).toBe("subject-per_1.zip");
    expect(downloadName('attachment; filename="../../etc/passwd"', "f.zip")).toBe("f.zip");
    expect(downloadName(null, "f.zip")).toBe("f.zip");
  });
});

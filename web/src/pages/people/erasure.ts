// Erasure receipts and subject access exports: the receipt's shape (an open JSON object in
// OpenAPI), the checks the erase dialog makes before sending, and saving a file the page holds.

/** One store the erasure removed items from (counts and a digest of the ids, never the ids). */
export interface ReceiptStore {
  store: string;
  count: number;
  sha256?: string;
  failed?: number;
  [extra: string]: unknown;
}

export interface ReceiptIndex {
  backend?: string;
  collections?: number;
  vectors_removed?: number;
  action?: string;
  in_sync?: boolean;
  [extra: string]: unknown;
}

/** The signed erasure receipt, as POST /api/v1/persons/{id}/erase answers it. */
export interface Receipt {
  format: number;
  kind: string;
  id: string;
  created_at: string;
  actor: string;
  subject_hash: string;
  key_id: string;
  with_media: boolean;
  stores: ReceiptStore[];
  index?: ReceiptIndex;
  signature: string;
  [extra: string]: unknown;
}

/** Store names the app has words for (others are shown as the API names them). */
export const KNOWN_STORES = [
  "persons",
  "observations",
  "embeddings",
  "text_segments",
  "cannot_links",
  "corrections",
  "person_links",
  "review_items",
  "summaries",
  "event_outbox",
  "results_scrubbed",
  "job_chunks_scrubbed",
  "blobs",
  "media",
] as const;
export type KnownStore = (typeof KNOWN_STORES)[number];

export function isKnownStore(store: string): store is KnownStore {
  return (KNOWN_STORES as readonly string[]).includes(store);
}

/** Whether an erase answer looks like a receipt (so the page never shows half of something else). */
export function isReceipt(value: unknown): value is Receipt {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.id === "string" &&
    typeof r.signature === "string" &&
    Array.isArray(r.stores) &&
    r.stores.every(
      (s) => typeof s === "object" && s !== null && typeof (s as ReceiptStore).store === "string" && typeof (s as ReceiptStore).count === "number",
    )
  );
}

/** Items removed in all stores together, and the stores where something could not be deleted. */
export function receiptTotals(receipt: Receipt): { removed: number; failed: string[] } {
  return {
    removed: receipt.stores.reduce((sum, s) => sum + s.count, 0),
    failed: receipt.stores.filter((s) => typeof s.failed === "number" && s.failed > 0).map((s) => s.store),
  };
}

export const MIN_REASON = 3;
export const MAX_REASON = 1000;

export type ReasonProblem = "short" | "long" | "name" | null;

/**
 * What is wrong with an erasure reason before it is sent: too short or long, or it names the
 * person (the reason stays in the audit trail, which must not hold their name; the API refuses it
 * too, this only says so before the click).
 */
export function reasonProblem(reason: string, names: readonly (string | null | undefined)[]): ReasonProblem {
  const trimmed = reason.trim();
  if (trimmed.length < MIN_REASON) return "short";
  if (trimmed.length > MAX_REASON) return "long";
  const folded = trimmed.toLocaleLowerCase();
  if (names.some((n) => n?.trim() && folded.includes(n.trim().toLocaleLowerCase()))) return "name";
  return null;
}

/** "subject-per_01H….zip" from the answer's Content-Disposition, or a safe fallback. */
export function downloadName(disposition: string | null, fallback: string): string {
  const match = disposition?.match(/filename="?([^";]+)"?/i);
  const name = match?.[1]?.trim();
  return name && /^[\w.-]+$/.test(name) ? name : fallback;
}

/** Hands a blob the page holds to the browser as a download. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
  // the browser reads the blob asynchronously after the click: revoking at once can cancel the
  // download, so the URL is freed a minute later (it only holds memory until then)
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The receipt as the signed JSON document (verifiable with `aima receipts verify`). */
export function receiptBlob(receipt: Receipt): Blob {
  return new Blob([`${JSON.stringify(receipt, null, 2)}\n`], { type: "application/json" });
}

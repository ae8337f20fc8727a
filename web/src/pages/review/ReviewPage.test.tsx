import { configure, screen, waitFor, within } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { json, type FakeRoutes } from "../../test/fakeApi";
import { logIn, renderApp } from "../../test/renderApp";
import type { ReviewItem } from "./types";
import { noteMissing, reviewOrder } from "./types";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

beforeAll(() => {
  // jsdom has no object URLs; the evidence frame only needs one to exist
  URL.createObjectURL ??= () => "blob:evidence";
  URL.revokeObjectURL ??= () => undefined;
});

const item = (id: string, over: Partial<ReviewItem> = {}): ReviewItem => ({
  id,
  kind: "restraint",
  label: "handcuffs",
  media_id: "med_1",
  result_id: "res_1",
  ref: `kf1:${id}`,
  t: 72.5,
  box: [0.1, 0.1, 0.2, 0.2],
  evidence: "blob1",
  confidence: 0.61,
  raw_confidence: 0.9,
  details: {},
  state: "unreviewed",
  decided_by: null,
  decided_at: null,
  note: null,
  created_at: "2026-12-01T10:00:00Z",
  ...over,
});

/** An in-memory review queue behind the fake API, deciding like the real one (note to dismiss). */
function queue(items: ReviewItem[]) {
  const decisions: { id: string; action: string; note: string | null }[] = [];
  const routes: FakeRoutes = async (request, path, user) => {
    if (!["admin", "analyst", "auditor"].includes(user.role)) return json(403, { error: { code: "forbidden" } });
    if (request.method === "GET" && path === "/api/v1/review") {
      const state = new URL(request.url).searchParams.get("state");
      return json(200, items.filter((i) => !state || i.state === state));
    }
    const evidence = path.match(/^\/api\/v1\/review\/([^/]+)\/evidence$/);
    if (evidence) return new Response(new Blob([new Uint8Array([255, 216, 255])]), { headers: { "content-type": "image/jpeg" } });
    const decide = path.match(/^\/api\/v1\/review\/([^/]+)\/(confirm|dismiss)$/);
    if (request.method === "POST" && decide) {
      if (user.role === "auditor") return json(403, { error: { code: "forbidden", message: "needs review:decide" } });
      const [, id, action] = decide;
      const body = (await request.json()) as { note?: string | null };
      if (action === "dismiss" && !body.note) return json(422, { error: { code: "invalid", message: "a note is required" } });
      const found = items.find((i) => i.id === id);
      if (!found) return json(404, { error: { code: "not_found" } });
      Object.assign(found, {
        state: action === "confirm" ? "confirmed" : "dismissed",
        decided_by: `api:${user.username}`,
        decided_at: "2026-12-02T10:00:00Z",
        note: body.note ?? null,
      });
      decisions.push({ id: id ?? "", action: action ?? "", note: body.note ?? null });
      return json(200, found);
    }
    return null;
  };
  return { routes, decisions };
}

describe("review queue helpers", () => {
  it("puts unreviewed findings first, newest first within a state", () => {
    const ordered = reviewOrder([
      item("a", { state: "confirmed", created_at: "2026-12-03T00:00:00Z" }),
      item("b", { created_at: "2026-12-01T00:00:00Z" }),
      item("c", { created_at: "2026-12-02T00:00:00Z" }),
    ]);
    expect(ordered.map((i) => i.id)).toEqual(["c", "b", "a"]);
  });

  it("needs a note to dismiss, not to confirm", () => {
    expect(noteMissing("dismiss", "  ")).toBe(true);
    expect(noteMissing("dismiss", "a watch strap")).toBe(false);
    expect(noteMissing("confirm", "")).toBe(false);
  });
});

describe("review page", () => {
  it("lets an analyst confirm a finding and dismiss another only with a note", async () => {
    const { routes, decisions } = queue([item("rev_1"), item("rev_2", { label: "rope", t: 5 })]);
    const { user } = renderApp({ path: "/review", routes });
    await logIn(user, screen, "ana", "analyst-pw");
    const cards = await screen.findAllByTestId("review-item");
    expect(cards).toHaveLength(2);
    const first = cards.find((c) => within(c).queryByText("handcuffs"))!;
    expect(within(first).getByRole("link", { name: "med_1 at 1:12" })).toHaveAttribute("href", "/media/med_1?t=72.5");
    expect(within(first).getByText(/Confidence 61 %/)).toBeInTheDocument();
    expect(await within(first).findByRole("img", { name: /Evidence frame: handcuffs/ })).toBeInTheDocument();

    await user.click(within(first).getByRole("button", { name: "Confirm" }));
    const dialog = await screen.findByRole("dialog", { name: "Confirm “handcuffs”" });
    await user.click(within(dialog).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(decisions).toEqual([{ id: "rev_1", action: "confirm", note: null }]));
    await waitFor(() => expect(screen.getAllByTestId("review-item")).toHaveLength(1)); // only unreviewed left

    const rope = screen.getByTestId("review-item");
    await user.click(within(rope).getByRole("button", { name: "Dismiss" }));
    const dismiss = await screen.findByRole("dialog", { name: "Dismiss “rope”" });
    await user.click(within(dismiss).getByRole("button", { name: "Dismiss" }));
    expect(await within(dismiss).findByText("Enter a note to dismiss the finding.")).toBeInTheDocument();
    expect(decisions).toHaveLength(1);
    await user.type(within(dismiss).getByRole("textbox", { name: /Note/ }), "a red scarf");
    await user.click(within(dismiss).getByRole("button", { name: "Dismiss" }));
    await waitFor(() => expect(decisions[1]).toEqual({ id: "rev_2", action: "dismiss", note: "a red scarf" }));
    expect(await screen.findByText("Nothing here.")).toBeInTheDocument();

    await user.click(screen.getByRole("radio", { name: "All" }));
    const all = await screen.findAllByTestId("review-item");
    expect(all.map((c) => c.getAttribute("data-state")).sort()).toEqual(["confirmed", "dismissed"]);
    expect(screen.getByText("Note: a red scarf")).toBeInTheDocument();
  });

  it("shows an auditor the queue read-only", async () => {
    const { routes } = queue([item("rev_1")]);
    const { user } = renderApp({ path: "/review", routes });
    await logIn(user, screen, "audrey", "auditor-pw");
    const card = await screen.findByTestId("review-item");
    expect(within(card).queryByRole("button", { name: "Confirm" })).toBeNull();
    expect(screen.getByText(/Your role may read this queue/)).toBeInTheDocument();
  });

  it("tells a viewer the page is not for their role", async () => {
    const { routes } = queue([item("rev_1")]);
    const { user } = renderApp({ path: "/review", routes });
    await logIn(user, screen, "vera", "viewer-pw");
    expect(await screen.findByRole("heading", { level: 2, name: /not allowed/i })).toBeInTheDocument();
    expect(screen.queryByTestId("review-item")).toBeNull();
  });
});

import { configure, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import type { Receipt } from "./erasure";
import { ReceiptView } from "./ReceiptView";
import { SubjectActions } from "./SubjectActions";
import type { Person } from "./types";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

const PERSON: Person = {
  id: "per_1",
  requested_id: "per_1",
  name: "Ada Lovelace",
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
  crops: [],
  faces: 2,
  voices: 1,
  media: 3,
  merged_ids: [],
  links: [],
  observations: [],
  on_screen_s: 12,
  speaking_s: 3,
};

const OPEN_CASE = {
  id: "case_1",
  title: "Request 17",
  legal_basis: "legal_obligation",
  justification: "a data subject asked for erasure",
  state: "open",
  created_by: "admin",
  created_at: "2026-12-01T00:00:00Z",
  closed_at: null,
  members: [],
};

const RECEIPT: Receipt = {
  format: 1,
  kind: "person_erasure",
  id: "rcp_1",
  created_at: "2026-12-04T03:00:00+00:00",
  actor: "api:admin",
  subject_hash: "ab".repeat(32),
  key_id: "k1",
  with_media: true,
  stores: [
    { store: "persons", count: 1, sha256: "x" },
    { store: "observations", count: 3, sha256: "y" },
    { store: "media", count: 3, sha256: "z", failed: 0 },
  ],
  index: { backend: "faiss", collections: 2, vectors_removed: 3, action: "rebuilt", in_sync: true },
  signature: "sig",
};

beforeEach(() => {
  URL.createObjectURL = vi.fn(() => "blob:receipt");
  URL.revokeObjectURL = vi.fn();
});
afterEach(() => vi.restoreAllMocks());

describe("erasing a person", () => {
  it("asks for a case, refuses a reason naming them, then erases and hands over the receipt", async () => {
    const sent: unknown[] = [];
    const onErased = vi.fn();
    const { user } = await renderWithApi(<SubjectActions person={PERSON} label="Ada Lovelace" onErased={onErased} />, {
      routes: async (request, path) => {
        if (path === "/api/v1/cases") return json(200, [OPEN_CASE]);
        if (path === "/api/v1/persons/per_1/erase" && request.method === "POST") {
          sent.push({ case: request.headers.get("X-AIMA-Case"), body: await request.json() });
          return json(200, RECEIPT);
        }
        return null;
      },
    });
    await user.click(screen.getByRole("button", { name: "Erase this person…" }));
    const dialog = await screen.findByRole("dialog", { name: "Erase Ada Lovelace" });
    expect(within(dialog).getByTestId("erase-scope")).toHaveTextContent("2 face tracks and 1 voices");
    expect(within(dialog).getByText(/The 3 media they appear in stay/)).toBeInTheDocument();
    // no case yet: the prompt, and the erase button is off
    expect(within(dialog).getByText("Choose or open a case to erase this person")).toBeInTheDocument();
    expect(within(dialog).getByRole("button", { name: "Erase permanently" })).toBeDisabled();
    await within(dialog).findByRole("option", { name: "Request 17" });
    await user.selectOptions(within(dialog).getByRole("combobox", { name: "Current case" }), "case_1");

    const reason = within(dialog).getByRole("textbox", { name: /Reason/ });
    await user.type(reason, "request from ada lovelace");
    await user.click(within(dialog).getByRole("button", { name: "Erase permanently" }));
    expect(await within(dialog).findByText(/must not contain the person's name/)).toBeInTheDocument();
    expect(sent).toEqual([]);

    await user.clear(reason);
    await user.type(reason, "data subject request 2026-17");
    await user.click(within(dialog).getByRole("checkbox", { name: "Also delete the 3 media they appear in" }));
    expect(within(dialog).getByText(/will be deleted too/)).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Erase permanently" }));
    await waitFor(() => expect(onErased).toHaveBeenCalledWith(RECEIPT));
    expect(sent).toEqual([{ case: "case_1", body: { reason: "data subject request 2026-17", with_media: true } }]);
  });

  it("shows the API's refusal in the dialog", async () => {
    sessionStorage.setItem("aima.case", "case_1");
    const { user } = await renderWithApi(<SubjectActions person={PERSON} label="Ada Lovelace" onErased={vi.fn()} />, {
      routes: (_request, path) => {
        if (path === "/api/v1/cases") return json(200, [OPEN_CASE]);
        if (path === "/api/v1/persons/per_1/erase") {
          return json(409, { error: { code: "conflict", message: "a media this person appears in has a running job; cancel it first" } });
        }
        return null;
      },
    });
    await user.click(screen.getByRole("button", { name: "Erase this person…" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByRole("textbox", { name: /Reason/ }), "request 17");
    await user.click(within(dialog).getByRole("button", { name: "Erase permanently" }));
    expect(await within(dialog).findByText(/has a running job; cancel it first/)).toBeInTheDocument();
  });
});

describe("the subject access export", () => {
  it("downloads the ZIP under the current case, and prompts for one without", async () => {
    const cases: (string | null)[] = [];
    const { user, api } = await renderWithApi(<SubjectActions person={PERSON} label="Ada Lovelace" onErased={vi.fn()} />, {
      routes: (request, path) => {
        if (path === "/api/v1/cases") return json(200, [OPEN_CASE]);
        if (path === "/api/v1/persons/per_1/subject-export") {
          cases.push(request.headers.get("X-AIMA-Case"));
          return new Response(new Blob(["PK-zip-bytes"]), {
            status: 200,
            headers: { "content-type": "application/zip", "content-disposition": 'attachment; filename="subject-per_1.zip"' },
          });
        }
        return null;
      },
    });
    await user.click(screen.getByRole("button", { name: "Export everything held on this person" }));
    expect(await screen.findByText("Choose or open a case to export everything held on this person")).toBeInTheDocument();
    expect(cases).toEqual([]);
    await screen.findByRole("option", { name: "Request 17" });
    await user.selectOptions(screen.getByRole("combobox", { name: "Current case" }), "case_1");
    // choosing a case runs the export that waited for it
    expect(await screen.findByText(/Export downloaded/)).toBeInTheDocument();
    expect(cases).toEqual(["case_1"]);
    expect(api.cases.get()).toBe("case_1");
    expect(URL.createObjectURL).toHaveBeenCalledTimes(1);
  });
});

describe("the receipt", () => {
  it("shows the id, the counts per store and the signature check", async () => {
    await renderWithApi(<ReceiptView receipt={RECEIPT} />, {
      routes: (_request, path) =>
        path === "/api/v1/receipts/rcp_1" ? json(200, { receipt: RECEIPT, valid: true, problem: null }) : null,
    });
    expect(screen.getByTestId("receipt-id")).toHaveTextContent("rcp_1");
    expect(await screen.findByText("Signature valid")).toBeInTheDocument();
    const stores = screen.getByRole("table", { name: "Items removed per store" });
    expect(within(stores).getByRole("row", { name: /Face tracks and voices 3/ })).toBeInTheDocument();
    expect(screen.getByText("7 items were removed.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "View the stored receipt and its check" })).toHaveAttribute("href", "/api/v1/receipts/rcp_1");
  });
});

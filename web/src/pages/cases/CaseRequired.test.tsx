import { configure, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { DossierView } from "../people/DossierView";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

afterEach(() => sessionStorage.clear());

const OPEN = [
  {
    id: "case_1",
    title: "Badge fraud",
    legal_basis: "legitimate_interests",
    justification: "badges used twice at the north entrance",
    state: "open",
    created_by: "admin",
    created_at: "2026-12-01T00:00:00Z",
    closed_at: null,
    members: [],
  },
];

/** The API's guard: no case -> 400, a closed case -> 409, an open one -> the dossier. */
function guarded(request: Request, path: string) {
  if (path === "/api/v1/cases") return json(200, OPEN);
  if (path !== "/api/v1/persons/per_1/dossier") return null;
  const id = request.headers.get("X-AIMA-Case") ?? new URL(request.url).searchParams.get("case");
  if (!id) {
    return json(400, {
      error: { code: "bad_request", message: "dossier needs an open case", details: { purpose: "dossier" } },
    });
  }
  if (id === "case_closed") {
    return json(409, {
      error: { code: "conflict", message: "case case_closed is closed", details: { case: id, state: "closed" } },
    });
  }
  return json(200, { person: { id: "per_1", name: null }, summary: {}, sections: {}, facts: [], notes: [`under ${id}`] });
}

describe("a page that needs a case", () => {
  it("prompts for a case, then loads under the one chosen in the prompt", async () => {
    const { user, api } = await renderWithApi(<DossierView personId="per_1" />, { routes: guarded });
    expect(await screen.findByText("Choose or open a case to see this dossier")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Download Markdown" })).toBeNull();
    const picker = await screen.findByRole("combobox", { name: "Current case" });
    await screen.findByRole("option", { name: "Badge fraud" });
    await user.selectOptions(picker, "case_1");
    expect(await screen.findByText("under case_1")).toBeInTheDocument();
    expect(api.cases.get()).toBe("case_1");
    expect(sessionStorage.getItem("aima.case")).toBe("case_1");
    const link = screen.getByRole("link", { name: "Download Markdown" });
    expect(link.getAttribute("href")).toBe("/api/v1/persons/per_1/dossier?format=md&case=case_1");
  });

  it("shows the API's message for a closed case", async () => {
    sessionStorage.setItem("aima.case", "case_closed");
    await renderWithApi(<DossierView personId="per_1" />, { routes: guarded });
    const prompt = await screen.findByTestId("case-prompt");
    await waitFor(() => expect(prompt).toHaveTextContent("case case_closed is closed"));
  });
});

import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { factAnchor, type Summary, SummaryPanel, withoutIds } from "./SummaryPanel";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

const summary = (over: Partial<Summary> = {}): Summary => ({
  subject_type: "person",
  subject_id: "per_1",
  method: "llm",
  model: "llama-3.1-8b",
  prompt_version: "person_summary@2",
  label: "llama-3.1-8b, person_summary@2",
  facts_hash: "abc",
  generated_at: "2026-12-01T10:00:00Z",
  regenerated: false,
  details: {},
  text: "",
  sentences: [
    { text: "Ada appears in two videos [F1, F2].", cites: ["F1", "F2"] },
    { text: "She speaks about the budget [F3].", cites: ["F3"] },
  ],
  ...over,
});

describe("withoutIds", () => {
  it("drops bracketed fact ids wherever they stand", () => {
    expect(withoutIds("Ada appears [F1] in two videos [F1, F2].")).toBe("Ada appears in two videos.");
    expect(withoutIds("No ids here.")).toBe("No ids here.");
  });
});

describe("SummaryPanel", () => {
  it("links each citation to the fact on the page, names the model and regenerates", async () => {
    const calls: string[] = [];
    const { user } = await renderWithApi(
      <>
        <SummaryPanel subject={{ kind: "person", id: "per_1" }} linkFacts />
        <ul>
          <li id={factAnchor("F3")} tabIndex={-1}>
            fact three
          </li>
        </ul>
      </>,
      {
        routes: (request, path) => {
          if (path !== "/api/v1/persons/per_1/summary") return null;
          const refresh = new URL(request.url).searchParams.get("refresh") === "true";
          calls.push(refresh ? "refresh" : "get");
          return json(200, refresh ? summary({ regenerated: true, sentences: [{ text: "Fresh [F3].", cites: ["F3"] }] }) : summary());
        },
      },
    );
    const sentences = await screen.findAllByTestId("summary-sentence");
    expect(sentences[0]).toHaveTextContent("Ada appears in two videos.");
    expect(sentences[0]).not.toHaveTextContent("[F1");
    expect(screen.getByTestId("summary-method")).toHaveTextContent("llama-3.1-8b (prompt person_summary@2)");

    await user.click(screen.getByRole("link", { name: "Show fact F3" }));
    const fact = screen.getByText("fact three");
    expect(fact).toHaveClass("fact-highlight");
    expect(fact).toHaveFocus();

    await user.click(screen.getByRole("button", { name: "Regenerate" }));
    await waitFor(() => expect(screen.getAllByTestId("summary-sentence")).toHaveLength(1));
    expect(screen.getByTestId("summary-sentence")).toHaveTextContent("Fresh.");
    expect(calls).toEqual(["get", "refresh"]);
  });

  it("labels an extractive summary and shows media citations as plain chips", async () => {
    await renderWithApi(<SummaryPanel subject={{ kind: "media", id: "med_1" }} />, {
      routes: (_request, path) =>
        path === "/api/v1/media/med_1/summary"
          ? json(200, summary({ method: "extractive", model: null, prompt_version: null, subject_type: "media", sentences: [{ text: "Speech at 0:12 [M1].", cites: ["M1"] }] }))
          : null,
    });
    const method = await screen.findByTestId("summary-method");
    expect(method).toHaveTextContent("Extractive summary — no language model configured");
    const sentence = screen.getByTestId("summary-sentence");
    expect(within(sentence).getByText("M1")).toBeInTheDocument();
    expect(within(sentence).queryByRole("link")).toBeNull();
  });

  it("says why when the summary cannot be made", async () => {
    await renderWithApi(<SummaryPanel subject={{ kind: "person", id: "per_9" }} />, {
      routes: () => json(404, { error: { code: "not_found", message: "no such person" } }),
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("no such person");
  });
});

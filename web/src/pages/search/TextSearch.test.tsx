import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { TextSearch } from "./TextSearch";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

const hit = (matched_by: ("fulltext" | "semantic")[], source = "transcript") => ({
  segment_id: matched_by.length + (source === "scene" ? 10 : 0),
  media_id: "med_1",
  media_name: "harbour.mp4",
  source,
  start: 12,
  end: 15,
  text: "the harbour at dawn",
  snippet: "the [harbour] at dawn",
  jump: "/media/med_1?t=12",
  score: 0.5,
  matched_by,
});

describe("TextSearch", () => {
  it("asks with the API's default ranking, then with the chosen one, and says what found each hit", async () => {
    const modes: (string | null)[] = [];
    const { user } = await renderWithApi(<TextSearch />, {
      username: "vera",
      routes: (request, path) => {
        if (path !== "/api/v1/search/text") return null;
        const mode = new URL(request.url).searchParams.get("mode");
        modes.push(mode);
        const results =
          mode === "semantic" ? [hit(["semantic"], "scene")] : [hit(["fulltext", "semantic"])];
        return json(200, { query: "harbor", mode: mode ?? "hybrid", semantic: true, limit: 20, offset: 0, results });
      },
    });
    await user.type(screen.getByRole("textbox", { name: /Words in transcripts/ }), "harbor");
    await user.click(screen.getByRole("button", { name: "Search" }));
    const hits = await screen.findByTestId("text-hits");
    await waitFor(() => expect(within(hits).getAllByTestId("matched-by").map((b) => b.textContent)).toEqual(["found by words", "found by meaning"]));
    const ranking = screen.getByRole("radiogroup", { name: "Ranking" });
    expect(within(ranking).getByRole("radio", { name: "Both" })).toBeChecked();

    await user.click(within(ranking).getByRole("radio", { name: "Meaning" }));
    await waitFor(() => expect(screen.getByText("Scene")).toBeInTheDocument());
    expect(within(screen.getByTestId("text-hits")).getByTestId("matched-by")).toHaveTextContent("found by meaning");
    expect(modes).toEqual([null, "semantic"]);
  });

  it("offers only word search when semantic search is off", async () => {
    const { user } = await renderWithApi(<TextSearch />, {
      routes: (_request, path) =>
        path === "/api/v1/search/text"
          ? json(200, { query: "x", mode: "fulltext", semantic: false, limit: 20, offset: 0, results: [] })
          : null,
    });
    await user.type(screen.getByRole("textbox", { name: /Words in transcripts/ }), "x");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await screen.findByText("Nothing found for “x”.");
    expect(screen.getByRole("radio", { name: "Words" })).toBeChecked();
    expect(screen.getByRole("radio", { name: "Meaning" })).toBeDisabled();
  });
});

import { describe, expect, it } from "vitest";
import { activeFilterCount, readFilters, toQuery, withFilter } from "./filters";

describe("library filters in the address bar", () => {
  it("turns the address into an API query, with an inclusive end date", () => {
    const filters = readFilters(new URLSearchParams("kind=audio&from=2024-01-31&to=2024-02-29&flagged=no&speech=yes&q=%20talk%20&sort=name"));
    expect(toQuery(filters)).toEqual({
      kind: "audio",
      created_from: "2024-01-31T00:00:00Z",
      created_to: "2024-03-01T00:00:00.000Z",
      flagged: false,
      has_speech: true,
      q: "talk",
      sort: "name",
    });
    expect(activeFilterCount(filters)).toBe(5);
  });

  it("ignores unknown values and keeps defaults out of the address", () => {
    const filters = readFilters(new URLSearchParams("kind=pdf&sort=drop&state=weird&faces=maybe"));
    expect(toQuery(filters)).toEqual({ sort: "-created_at" });
    const params = withFilter(new URLSearchParams("kind=image&view=list"), "kind", "");
    expect(params.toString()).toBe("view=list");
    expect(withFilter(params, "view", "grid").toString()).toBe("");
  });
});

import { describe, expect, it } from "vitest";
import { apiMessage, clock, mediaLink, percent, snippetParts } from "./types";

describe("search helpers", () => {
  it("links a hit to the media view at its moment", () => {
    expect(mediaLink("med_1", 12.345)).toBe("/media/med_1?t=12.3");
    expect(mediaLink("med 2", null)).toBe("/media/med%202?t=0");
  });
  it("formats times and scores", () => {
    expect(clock(75.4)).toBe("1:15");
    expect(clock(3725)).toBe("1:02:05");
    expect(percent(0.876)).toBe("88 %");
  });
  it("marks the matched words of a snippet", () => {
    expect(snippetParts("the [budget] meeting")).toEqual([
      { text: "the ", marked: false },
      { text: "budget", marked: true },
      { text: " meeting", marked: false },
    ]);
  });
  it("shows the API's own message for a refused query", () => {
    expect(apiMessage({ error: { code: "invalid_input", message: "q.txt: not a photo" } }, 422)).toBe(
      "q.txt: not a photo",
    );
    expect(apiMessage(undefined, 500)).toBe("HTTP 500");
  });
});

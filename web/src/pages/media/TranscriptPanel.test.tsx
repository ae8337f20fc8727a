import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { TranscriptItem } from "./model";
import { TranscriptPanel } from "./TranscriptPanel";
import { renderWithProviders } from "./testUtils";

const word = (w: string, start: number, end: number) => ({
  word: w,
  start,
  end,
  speaker: "S1",
  person_named: true,
});
const segments = [
  {
    start: 0.5,
    end: 2,
    speaker: "S1",
    person_id: "per_1",
    person_name: "Grace Hopper",
    person_named: true,
    text: "Good morning",
    confidence: 0.9,
    words: [word("Good", 0.5, 0.9), word("morning", 1.0, 2.0)],
  },
  {
    start: 5,
    end: 6,
    speaker: "S2",
    person_named: false,
    text: "Thanks",
    confidence: 0.9,
    words: [word("Thanks", 5, 6)],
  },
] as unknown as TranscriptItem[];

describe("TranscriptPanel", () => {
  it("names speakers, highlights the current word and seeks on click", () => {
    const onSeek = vi.fn();
    const { rerender } = renderWithProviders(<TranscriptPanel segments={segments} time={1.2} onSeek={onSeek} />);
    expect(screen.getByText("Grace Hopper")).toBeInTheDocument();
    expect(screen.getByText("S2")).toBeInTheDocument(); // no person: the raw speaker id
    expect(screen.getByRole("button", { name: "morning" })).toHaveClass("current");
    expect(screen.getByRole("button", { name: "Good" })).not.toHaveClass("current");
    fireEvent.click(screen.getByRole("button", { name: "Thanks" }));
    expect(onSeek).toHaveBeenCalledWith(5);
    fireEvent.click(screen.getByRole("button", { name: "Play from 0:00" }));
    expect(onSeek).toHaveBeenLastCalledWith(0.5);
    rerender(<TranscriptPanel segments={segments} time={5.5} onSeek={onSeek} />);
    expect(screen.getAllByRole("listitem")[1]).toHaveAttribute("aria-current", "true");
  });

  it("says when there is no transcript", () => {
    renderWithProviders(<TranscriptPanel segments={[]} time={0} onSeek={() => undefined} />);
    expect(screen.getByText("No transcript.")).toBeInTheDocument();
  });
});

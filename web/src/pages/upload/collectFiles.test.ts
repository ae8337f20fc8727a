import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration } from "../dashboard/format";
import { filesFromDrop, filesFromList } from "./collectFiles";

function fileEntry(file: File): FileSystemFileEntry {
  return { name: file.name, isFile: true, isDirectory: false, file: (ok: (f: File) => void) => ok(file) } as unknown as FileSystemFileEntry;
}

function dirEntry(name: string, children: FileSystemEntry[]): FileSystemDirectoryEntry {
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      // answers in batches of two, then an empty batch, like Chromium's 100-entry batches
      let rest = [...children];
      return {
        readEntries: (ok: (batch: FileSystemEntry[]) => void) => {
          const batch = rest.slice(0, 2);
          rest = rest.slice(2);
          ok(batch);
        },
      };
    },
  } as unknown as FileSystemDirectoryEntry;
}

const file = (name: string) => new File(["x"], name);

describe("collecting dropped files", () => {
  it("walks dropped folders (all batches), keeps paths and skips hidden files", async () => {
    const tree = dirEntry("trip", [
      fileEntry(file("a.jpg")),
      fileEntry(file(".DS_Store")),
      dirEntry("day2", [fileEntry(file("b.mp4"))]),
      fileEntry(file("c.wav")),
    ]);
    const items = [tree, fileEntry(file("loose.png"))].map((entry) => ({
      kind: "file",
      webkitGetAsEntry: () => entry,
    }));
    const picked = await filesFromDrop({ items, files: [] } as unknown as DataTransfer);
    expect(picked.map((p) => p.path)).toEqual(["trip/a.jpg", "trip/day2/b.mp4", "trip/c.wav", "loose.png"]);
  });

  it("falls back to the file list without entries", async () => {
    const files = [file("one.jpg")];
    const picked = await filesFromDrop({ items: [], files } as unknown as DataTransfer);
    expect(picked.map((p) => p.path)).toEqual(["one.jpg"]);
    expect(filesFromList([file("two.jpg"), file(".hidden")]).map((p) => p.path)).toEqual(["two.jpg"]);
  });
});

describe("formatting", () => {
  it("writes sizes and durations for people", () => {
    expect(formatBytes(7168, "en")).toBe("7.2 KB");
    expect(formatBytes(512, "en")).toBe("512 B");
    expect(formatDuration(75)).toBe("1 min 15 s");
    expect(formatDuration(3700)).toBe("1 h 1 min");
  });
});

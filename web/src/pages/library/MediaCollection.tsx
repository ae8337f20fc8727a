// The virtualised grid / list: only the rows on screen (plus a few) exist in the DOM, rows have
// a fixed height (no measuring while scrolling), and the pages under the visible rows are asked
// for as they come into view.
import { useElementSize } from "@mantine/hooks";
import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { MediaTile } from "./MediaTile";
import type { Selection } from "./selection";
import type { MediaPages } from "./useMediaPages";

const CARD_MIN = 168;
const GAP = 12;
const GRID_ROW = 228 + GAP;
const LIST_ROW = 64;

// memoised: the page around it re-renders on every fetch-state change; this re-renders only when
// the loaded pages, the view or the selection change (and on scroll, through the virtualiser)
export const MediaCollection = memo(function MediaCollection({
  pages,
  view,
  selection,
  canSelect,
}: {
  pages: MediaPages;
  view: "grid" | "list";
  selection: Selection;
  canSelect: boolean;
}) {
  const { t } = useTranslation();
  const { ref: sizeRef, width } = useElementSize();
  const listRef = useRef<HTMLDivElement | null>(null);
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const top = listRef.current?.getBoundingClientRect().top ?? 0;
    setMargin(top + window.scrollY);
  }, [view, width]);

  const total = pages.total ?? 0;
  const columns = view === "grid" ? Math.max(1, Math.floor((width + GAP) / (CARD_MIN + GAP))) : 1;
  const rows = Math.ceil(total / columns);
  const rowHeight = view === "grid" ? GRID_ROW : LIST_ROW;
  const virtualizer = useWindowVirtualizer({
    count: rows,
    estimateSize: () => rowHeight,
    overscan: 4,
    scrollMargin: margin,
    // render scrolled-in rows with the frame rather than synchronously inside each scroll event
    useFlushSync: false,
  });
  useEffect(() => virtualizer.measure(), [rowHeight, columns, virtualizer]);
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  const { need } = pages;
  useEffect(() => {
    if (rows > 0) need(first * columns, (last + 1) * columns - 1);
  }, [first, last, columns, rows, need]);

  return (
    <div ref={sizeRef}>
      <div
        ref={listRef}
        role="list"
        aria-label={t("library.results", { count: total })}
        data-testid="media-collection"
        data-view={view}
        style={{ height: virtualizer.getTotalSize(), position: "relative" }}
      >
        {items.map((row) => (
          <div
            key={row.key}
            role="none"
            className={view === "grid" ? "lib-row-grid" : "lib-row-list"}
            style={{
              position: "absolute",
              top: 0,
              left: 0,
              right: 0,
              height: rowHeight - (view === "grid" ? GAP : 4),
              transform: `translateY(${row.start - virtualizer.options.scrollMargin}px)`,
              gridTemplateColumns: view === "grid" ? `repeat(${columns}, minmax(0, 1fr))` : undefined,
            }}
          >
            {Array.from({ length: columns }, (_, c) => row.index * columns + c)
              .filter((index) => index < total)
              .map((index) => {
                const media = pages.item(index);
                return (
                  // keyed by slot: a skeleton turning into its card updates in place, no remount
                  <div role="listitem" key={index} style={{ minWidth: 0 }}>
                    <MediaTile
                      media={media}
                      index={index}
                      view={view}
                      selected={media ? selection.has(media.id) : false}
                      canSelect={canSelect}
                      onToggle={selection.toggle}
                    />
                  </div>
                );
              })}
          </div>
        ))}
      </div>
    </div>
  );
});

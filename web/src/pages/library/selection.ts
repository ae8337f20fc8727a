// Which cards are selected: click toggles one, shift-click selects the range from the last
// clicked card, "select all" takes every loaded card. Ids, so paging and re-sorting keep it.
import { useCallback, useMemo, useRef, useState } from "react";

export interface Selection {
  ids: ReadonlySet<string>;
  has: (id: string) => boolean;
  /** Toggle `index`; with `range`, set every card between the anchor and it to the new state. */
  toggle: (index: number, range: boolean) => void;
  setAll: (ids: string[]) => void;
  clear: () => void;
  remove: (ids: Iterable<string>) => void;
}

export function useSelection(idAt: (index: number) => string | undefined): Selection {
  const [ids, setIds] = useState<ReadonlySet<string>>(new Set());
  const anchorRef = useRef<number | null>(null);
  const idAtRef = useRef(idAt);
  idAtRef.current = idAt;
  // stable across renders, so memoised cards do not re-render when the page does
  const toggle = useCallback(
    (index: number, range: boolean) => {
      const idAt = idAtRef.current;
      const anchor = anchorRef.current;
      const id = idAt(index);
      if (!id) return;
      setIds((current) => {
        const next = new Set(current);
        const on = !current.has(id);
        if (range && anchor !== null) {
          const [a, b] = anchor < index ? [anchor, index] : [index, anchor];
          for (let i = a; i <= b; i += 1) {
            const other = idAt(i);
            if (other) {
              if (on) next.add(other);
              else next.delete(other);
            }
          }
        } else if (on) next.add(id);
        else next.delete(id);
        return next;
      });
      anchorRef.current = index;
    },
    [],
  );
  const setAll = useCallback((all: string[]) => setIds(new Set(all)), []);
  const clear = useCallback(() => {
    setIds(new Set());
    anchorRef.current = null;
  }, []);
  const remove = useCallback(
    (gone: Iterable<string>) =>
      setIds((current) => {
        const next = new Set(current);
        for (const id of gone) next.delete(id);
        return next;
      }),
    [],
  );
  // one object per selection state, so the memoised collection re-renders only when it changes
  return useMemo(
    () => ({ ids, has: (id: string) => ids.has(id), toggle, setAll, clear, remove }),
    [ids, toggle, setAll, clear, remove],
  );
}

// GET /api/v1/media in pages of 200, fetched for the rows the virtual list needs (so a jump
// to the end of 5,000 items loads one page, not 25); the total comes with every page.
import { keepPreviousData, useQueries } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { type components, useApi } from "../../api";
import type { MediaQuery } from "./filters";

export type MediaCard = components["schemas"]["MediaCardOut"];
export const PAGE_SIZE = 200;
export const LIBRARY_KEY = "library";

export interface MediaPages {
  total: number | undefined;
  /** The card at an index, or undefined while its page loads. */
  item: (index: number) => MediaCard | undefined;
  /** Every card loaded so far, in order (for "select all" and shift ranges). */
  loaded: () => (MediaCard | undefined)[];
  /** How many cards are loaded (without building the list). */
  loadedCount: number;
  /** Ask for the pages covering [first, last]. */
  need: (first: number, last: number) => void;
  isLoading: boolean;
  error: unknown;
}

export function useMediaPages(query: MediaQuery): MediaPages {
  const { client } = useApi();
  const key = JSON.stringify(query);
  const [wanted, setWanted] = useState<{ key: string; pages: number[] }>({ key, pages: [0] });
  useEffect(() => setWanted({ key, pages: [0] }), [key]);
  const pages = wanted.key === key ? wanted.pages : [0];

  const results = useQueries({
    queries: pages.map((page) => ({
      queryKey: [LIBRARY_KEY, "media", key, page],
      placeholderData: page === 0 ? keepPreviousData : undefined,
      queryFn: async ({ signal }: { signal: AbortSignal }) => {
        const { data, error } = await client.GET("/api/v1/media", {
          params: { query: { ...query, limit: PAGE_SIZE, offset: page * PAGE_SIZE } },
          signal,
        });
        if (error || !data) throw error ?? new Error("no data");
        return data;
      },
    })),
  });

  // The pages' data keeps its identity between renders (structural sharing), so merge only when
  // one of them actually changed: `item`, `loaded` and the returned object then stay the same
  // while fetch states flicker, and the memoised collection and cards skip those renders.
  const pageData = pages.map((page, i) => [page, results[i]?.data] as const);
  const previous = useRef<typeof pageData>([]);
  const same =
    previous.current.length === pageData.length &&
    previous.current.every(([page, data], i) => page === pageData[i]?.[0] && data === pageData[i]?.[1]);
  if (!same) previous.current = pageData;
  const stable = previous.current;
  const merged = useMemo(() => {
    const byPage = new Map<number, MediaCard[]>();
    let count = 0;
    for (const [page, data] of stable) {
      if (data?.items) {
        byPage.set(page, data.items);
        count += data.items.length;
      }
    }
    const total = stable.find(([, data]) => data)?.[1]?.total;
    const item = (index: number) => byPage.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
    const loaded = () => {
      const out: (MediaCard | undefined)[] = [];
      for (let i = 0; i < (total ?? 0); i += 1) out.push(item(i));
      return out;
    };
    return { total, item, loaded, loadedCount: count };
  }, [stable]);

  const need = useCallback(
    (first: number, last: number) => {
      const from = Math.floor(Math.max(0, first) / PAGE_SIZE);
      const to = Math.floor(Math.max(0, last) / PAGE_SIZE);
      setWanted((current) => {
        if (current.key !== key) return current;
        const missing: number[] = [];
        for (let p = from; p <= to; p += 1) if (!current.pages.includes(p)) missing.push(p);
        return missing.length ? { key, pages: [...current.pages, ...missing].sort((a, b) => a - b) } : current;
      });
    },
    [key],
  );
  const isLoading = results[0]?.isPending ?? true;
  const error = results.find((r) => r.error)?.error ?? null;
  return useMemo(() => ({ ...merged, need, isLoading, error }), [merged, need, isLoading, error]);
}

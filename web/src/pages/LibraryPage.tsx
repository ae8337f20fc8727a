// The Library: every media the caller may see, as a virtualised grid or list that pages through
// GET /api/v1/media while scrolling; filters in the address bar; selection and batch actions.
import { Alert, Paper, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useMe } from "../api";
import { PageFrame } from "./PagePlaceholder";
import { BatchActions } from "./library/BatchActions";
import { type Filters, readFilters, readView, toQuery, withFilter } from "./library/filters";
import { LibraryFilters } from "./library/LibraryFilters";
import { MediaCollection } from "./library/MediaCollection";
import { useSelection } from "./library/selection";
import { TranscriptSearch } from "./library/TranscriptSearch";
import { useMediaPages } from "./library/useMediaPages";
import "./library/library.css";

export default function LibraryPage() {
  const { t } = useTranslation();
  const { can } = useMe();
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const view = readView(params);
  const pages = useMediaPages(toQuery(filters));
  const selection = useSelection((index) => pages.item(index)?.id);
  const canSelect = can("jobs:create") || can("media:upload");
  const change = (key: keyof Filters | "view", value: string) => setParams(withFilter(params, key, value), { replace: true });
  const reset = () => {
    const next = new URLSearchParams();
    if (view === "list") next.set("view", "list");
    setParams(next, { replace: true });
  };

  return (
    <PageFrame title={t("pages.library.title")} intro={t("pages.library.intro")}>
      {can("search:text") ? (
        <Paper withBorder p="sm">
          <TranscriptSearch />
        </Paper>
      ) : null}
      <LibraryFilters filters={filters} view={view} onChange={change} onReset={reset} />
      {canSelect ? (
        <Stack gap="xs" className="lib-batchbar">
          <BatchActions
            ids={[...selection.ids]}
            loadedCount={pages.loadedCount}
            onSelectAll={() =>
              selection.setAll(
                pages
                  .loaded()
                  .filter((m) => m !== undefined)
                  .map((m) => m.id),
              )
            }
            onClear={selection.clear}
            onDeleted={selection.remove}
          />
        </Stack>
      ) : null}
      {pages.error ? (
        <Alert color="red" role="alert">
          {t("library.loadFailed")}
        </Alert>
      ) : null}
      <Text size="sm" c="dimmed" aria-live="polite" data-testid="library-total">
        {pages.total === undefined ? t("library.loading") : t("library.total", { count: pages.total })}
      </Text>
      {pages.total === 0 ? <Text>{t("library.empty")}</Text> : null}
      <MediaCollection pages={pages} view={view} selection={selection} canSelect={canSelect} />
    </PageFrame>
  );
}

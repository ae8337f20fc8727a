// People: every person (unknown ones too) with a crop, name and counts; rename inline, merge by
// drag & drop or the "Merge into…" menu; every correction can be undone from its notification.
import { Alert, Button, Group, Loader, SegmentedControl, SimpleGrid, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../api";
import { PageFrame } from "./PagePlaceholder";
import { CorrectionsProvider } from "./people/corrections";
import { LinksPanel } from "./people/LinksPanel";
import { PersonCard } from "./people/PersonCard";

const PAGE = 60;
type Named = "all" | "named" | "unknown";

function Gallery() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const canManage = can("persons:manage");
  const [search, setSearch] = useState("");
  const [named, setNamed] = useState<Named>("all");
  const [limit, setLimit] = useState(PAGE);
  const [name] = useDebouncedValue(search.trim(), 250);
  const query = $api.useQuery("get", "/api/v1/persons", {
    params: {
      query: {
        limit,
        ...(name ? { name } : {}),
        ...(named === "all" ? {} : { named: named === "named" }),
      },
    },
  });
  const items = query.data?.items ?? [];
  const total = query.data?.total ?? 0;

  return (
    <>
      <Group align="flex-end" wrap="wrap">
        <TextInput
          label={t("people.search")}
          placeholder={t("people.searchPlaceholder")}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          style={{ flex: "1 1 220px" }}
        />
        <SegmentedControl
          aria-label={t("people.filter")}
          value={named}
          onChange={(v) => setNamed(v as Named)}
          data={[
            { value: "all", label: t("people.all") },
            { value: "named", label: t("people.named") },
            { value: "unknown", label: t("people.unknowns") },
          ]}
        />
      </Group>
      {canManage ? (
        <Text size="sm" c="dimmed">
          {t("people.mergeHint")}
        </Text>
      ) : null}
      {query.isPending ? <Loader size="sm" aria-label={t("people.loading")} /> : null}
      {query.isError ? <Alert color="red">{t("people.failed")}</Alert> : null}
      {query.isSuccess ? (
        <Text size="sm" aria-live="polite">
          {t("people.count", { shown: items.length, total })}
        </Text>
      ) : null}
      {query.isSuccess && !items.length ? <Text>{t("people.empty")}</Text> : null}
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="sm">
        {items.map((p) => (
          <PersonCard key={p.id} person={p} others={items.filter((o) => o.id !== p.id)} canManage={canManage} />
        ))}
      </SimpleGrid>
      {items.length < total ? (
        <Button variant="default" w="fit-content" onClick={() => setLimit((n) => Math.min(500, n + PAGE))}>
          {t("people.more")}
        </Button>
      ) : null}
      <LinksPanel canManage={canManage} />
    </>
  );
}

export default function PeoplePage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.people.title")} intro={t("pages.people.intro")}>
      <CorrectionsProvider>
        <Gallery />
      </CorrectionsProvider>
    </PageFrame>
  );
}

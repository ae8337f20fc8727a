// Cases (purpose binding): the caller's cases, open or closed; open a new one; members; close.
import { Alert, Button, Group, Loader, SegmentedControl, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useApi, useMe } from "../api";
import { PageFrame } from "./PagePlaceholder";
import { CaseCard } from "./cases/CaseCard";
import { CaseForm } from "./cases/CaseForm";
import { CasePicker } from "./cases/CasePicker";
import { apiMessage } from "./search/types";

type Filter = "open" | "closed" | "all";

export default function CasesPage() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const canManage = can("cases:manage");
  const [params, setParams] = useSearchParams();
  const [filter, setFilter] = useState<Filter>("open");
  const [created, setCreated] = useState<string | null>(null);
  const creating = canManage && params.get("new") === "1";
  const cases = $api.useQuery("get", "/api/v1/cases", {
    params: { query: filter === "all" ? {} : { state: filter } },
  });
  const items = cases.data ?? [];

  return (
    <PageFrame title={t("pages.cases.title")} intro={t("pages.cases.intro")}>
      <Group gap="sm" align="flex-end" wrap="wrap">
        <CasePicker />
        {canManage && !creating ? (
          <Button
            variant="default"
            onClick={() => {
              setCreated(null);
              setParams({ new: "1" }, { replace: true });
            }}
          >
            {t("cases.new")}
          </Button>
        ) : null}
      </Group>
      {creating ? (
        <CaseForm
          onCreated={(item) => {
            setCreated(item.title);
            setParams({}, { replace: true });
          }}
        />
      ) : null}
      {created && !creating ? (
        <Alert color="green" role="status" withCloseButton closeButtonLabel={t("cases.dismiss")} onClose={() => setCreated(null)}>
          {t("cases.form.created", { title: created })}
        </Alert>
      ) : null}
      <SegmentedControl
        aria-label={t("cases.filter")}
        value={filter}
        onChange={(value) => setFilter(value as Filter)}
        data={(["open", "closed", "all"] as const).map((key) => ({ value: key, label: t(`cases.filters.${key}`) }))}
        maw={360}
      />
      {cases.isPending ? <Loader size="sm" aria-label={t("cases.loading")} /> : null}
      {cases.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(cases.error)}
        </Alert>
      ) : null}
      {cases.isSuccess && !items.length ? <Text c="dimmed">{t("cases.empty")}</Text> : null}
      <Stack gap="sm" data-testid="case-list">
        {items.map((item) => (
          <CaseCard key={item.id} item={item} canManage={canManage} />
        ))}
      </Stack>
    </PageFrame>
  );
}

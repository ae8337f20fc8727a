// The effective settings, read-only; the API has already replaced every secret with "***".
import { Alert, Code, List, Table, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";

function show(value: unknown): string {
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function SettingsTab() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const settings = $api.useQuery("get", "/api/v1/settings");
  const [filter, setFilter] = useState("");
  const needle = filter.trim().toLowerCase();
  const policy = settings.data?.policy;
  const items = (settings.data?.items ?? []).filter((i) => !needle || i.key.toLowerCase().includes(needle));
  return (
    <>
      {settings.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(settings.error)}
        </Alert>
      ) : null}
      {policy ? (
        <Alert color="gray" title={t("admin.settings.policy.title")} mb="sm" data-testid="privacy-policy">
          <List size="sm" spacing={2}>
            <List.Item>
              {t("admin.settings.policy.jurisdiction", {
                name: policy.jurisdiction || t("admin.settings.policy.unnamed"),
              })}
            </List.Item>
            <List.Item>
              {policy.cases_required ? t("admin.settings.policy.casesRequired") : t("admin.settings.policy.casesOptional")}
            </List.Item>
            <List.Item>
              {policy.forbidden_analyzers.length
                ? t("admin.settings.policy.forbidden", { names: policy.forbidden_analyzers.join(", ") })
                : t("admin.settings.policy.noneForbidden")}
            </List.Item>
          </List>
          <Text size="xs" c="dimmed" mt={4}>
            {t("admin.settings.policy.hint")}
          </Text>
        </Alert>
      ) : null}
      <TextInput
        label={t("admin.settings.filter")}
        value={filter}
        onChange={(event) => setFilter(event.currentTarget.value)}
        maw={360}
        mb="sm"
      />
      <Table.ScrollContainer minWidth={480}>
        <Table striped aria-label={t("admin.settings.table")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("admin.settings.key")}</Table.Th>
              <Table.Th>{t("admin.settings.value")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((item) => (
              <Table.Tr key={item.key}>
                <Table.Td>
                  <Code>{item.key}</Code>
                </Table.Td>
                <Table.Td style={{ overflowWrap: "anywhere" }}>
                  {item.redacted ? (
                    <Code title={t("admin.settings.redacted")}>***</Code>
                  ) : (
                    show(item.value)
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </>
  );
}

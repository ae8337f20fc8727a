// The audit trail, newest first, a page at a time, and a check of its hash chain (audit:read).
import { Alert, Button, Code, Group, Stack, Table, Text } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";
import { formatWhen, shortHash } from "./format";

const PAGE = 50;

export function AuditTab() {
  const { t } = useTranslation();
  const { $api, client } = useApi();
  const [offset, setOffset] = useState(0);
  const events = $api.useQuery("get", "/api/v1/audit", { params: { query: { limit: PAGE, offset } } });
  const verify = useMutation({
    mutationFn: async () => {
      const { data, error, response } = await client.GET("/api/v1/audit/verify");
      if (!data) throw new Error(apiMessage(error, response.status));
      return data as { events: number; ok: boolean; first_bad_id: number | null };
    },
  });
  const rows = events.data ?? [];
  return (
    <Stack gap="md">
      <Group gap="sm" wrap="wrap">
        <Button onClick={() => verify.mutate()} loading={verify.isPending}>
          {t("admin.audit.verify")}
        </Button>
        <div aria-live="polite" data-testid="verify-result">
          {verify.data ? (
            <Text c={verify.data.ok ? "teal.9" : "red.9"} fw={600}>
              {verify.data.ok
                ? t("admin.audit.ok", { count: verify.data.events })
                : t("admin.audit.broken", { id: verify.data.first_bad_id ?? "?" })}
            </Text>
          ) : null}
        </div>
      </Group>
      {verify.isError ? (
        <Alert color="red" role="alert">
          {verify.error.message}
        </Alert>
      ) : null}
      {events.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(events.error)}
        </Alert>
      ) : null}
      <Table.ScrollContainer minWidth={720}>
        <Table striped aria-label={t("admin.audit.table")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("admin.audit.id")}</Table.Th>
              <Table.Th>{t("admin.audit.when")}</Table.Th>
              <Table.Th>{t("admin.audit.actor")}</Table.Th>
              <Table.Th>{t("admin.audit.action")}</Table.Th>
              <Table.Th>{t("admin.audit.object")}</Table.Th>
              <Table.Th>{t("admin.audit.outcome")}</Table.Th>
              <Table.Th>{t("admin.audit.hash")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>{e.id}</Table.Td>
                <Table.Td>{formatWhen(e.ts)}</Table.Td>
                <Table.Td>{e.actor}</Table.Td>
                <Table.Td>
                  <Code>{e.action}</Code>
                </Table.Td>
                <Table.Td style={{ overflowWrap: "anywhere" }}>
                  {[e.object_type, e.object_id].filter(Boolean).join(" ") || "–"}
                </Table.Td>
                <Table.Td>{e.outcome}</Table.Td>
                <Table.Td>
                  <Code title={e.hash}>{shortHash(e.hash)}</Code>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Group gap="sm" justify="space-between" wrap="wrap">
        <Text size="sm" c="dimmed">
          {rows.length > 0 ? t("admin.audit.showing", { from: offset + 1, to: offset + rows.length }) : t("admin.audit.none")}
        </Text>
        <Group gap="sm">
          <Button variant="default" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            {t("admin.previous")}
          </Button>
          <Button variant="default" disabled={rows.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
            {t("admin.next")}
          </Button>
        </Group>
      </Group>
    </Stack>
  );
}

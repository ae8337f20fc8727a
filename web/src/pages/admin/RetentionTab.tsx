// Retention (retention:manage, Administrators): the rules per library, add / change / delete one,
// and "run now": a dry run first lists what would go, then a confirmed run deletes it.
import { Alert, Button, Group, Stack, Switch, Table, Text, VisuallyHidden } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";
import { formatWhen } from "./format";
import { type Rule, isAction, isKind } from "./retention";
import { RULES_KEY, RuleForm } from "./RuleForm";
import { RunPanel } from "./RunPanel";

export function RetentionTab() {
  const { t } = useTranslation();
  const { $api, client } = useApi();
  const queryClient = useQueryClient();
  const rules = $api.useQuery("get", "/api/v1/retention/rules");
  const [editing, setEditing] = useState<Rule | null>(null);
  // the run being looked at: one rule's id, "all" enabled rules, or none
  const [running, setRunning] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: async (action: { kind: "enable"; id: string; enabled: boolean } | { kind: "delete"; id: string }) => {
      const path = { params: { path: { rule_id: action.id } } };
      const { error, response } =
        action.kind === "delete"
          ? await client.DELETE("/api/v1/retention/rules/{rule_id}", path)
          : await client.PATCH("/api/v1/retention/rules/{rule_id}", { ...path, body: { enabled: action.enabled } });
      if (!response.ok) throw new Error(apiMessage(error, response.status));
    },
    onSuccess: (_data, action) => {
      if (action.kind === "delete") {
        setConfirmDelete(null);
        if (editing?.id === action.id) setEditing(null);
        if (running === action.id) setRunning(null);
      }
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: RULES_KEY }),
  });
  const rows = rules.data ?? [];
  const kind = (value: string | null) => (value === null ? t("retention.kinds.all") : isKind(value) ? t(`retention.kinds.${value}`) : value);
  const action = (value: string) => (isAction(value) ? t(`retention.actions.${value}`) : value);

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        {t("retention.intro")}
      </Text>
      <RuleForm key={editing?.id ?? "new"} editing={editing} onDone={() => setEditing(null)} />
      {rules.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(rules.error)}
        </Alert>
      ) : null}
      {change.isError ? (
        <Alert color="red" role="alert">
          {t("retention.failed", { reason: change.error.message })}
        </Alert>
      ) : null}
      {rules.data && rows.length === 0 ? <Text size="sm">{t("retention.empty")}</Text> : null}
      {rows.length > 0 ? (
        <>
          <Group gap="sm">
            <Button variant="default" onClick={() => setRunning("all")} disabled={!rows.some((r) => r.enabled)}>
              {t("retention.runAll")}
            </Button>
          </Group>
          <Table.ScrollContainer minWidth={860} type="native" tabIndex={0} role="group" aria-label={t("retention.table")}>
            <Table striped aria-label={t("retention.table")}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("retention.library")}</Table.Th>
                  <Table.Th>{t("retention.kind")}</Table.Th>
                  <Table.Th>{t("retention.action")}</Table.Th>
                  <Table.Th>{t("retention.after")}</Table.Th>
                  <Table.Th>{t("retention.enabled")}</Table.Th>
                  <Table.Th>{t("retention.lastRun")}</Table.Th>
                  <Table.Th>
                    <VisuallyHidden>{t("retention.actionsColumn")}</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((r) => (
                  <Table.Tr key={r.id} data-testid={`rule-${r.id}`}>
                    <Table.Td>
                      <Text size="sm" fw={600}>
                        {r.library}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {r.id}
                      </Text>
                    </Table.Td>
                    <Table.Td>{kind(r.media_kind)}</Table.Td>
                    <Table.Td>
                      <Text size="sm" fw={r.action === "delete_media" ? 600 : undefined}>
                        {action(r.action)}
                      </Text>
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{t("retention.days", { count: r.after_days })}</Table.Td>
                    <Table.Td>
                      <Switch
                        checked={r.enabled}
                        aria-label={t("retention.enableLabel", { library: r.library })}
                        onChange={(e) => change.mutate({ kind: "enable", id: r.id, enabled: e.currentTarget.checked })}
                      />
                    </Table.Td>
                    <Table.Td>
                      {r.last_run_at ? t("retention.lastRunAt", { when: formatWhen(r.last_run_at), count: r.last_run_count }) : t("retention.never")}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap">
                        <Button size="compact-sm" variant="default" onClick={() => setRunning(r.id)} aria-label={t("retention.runLabel", { library: r.library })}>
                          {t("retention.run")}
                        </Button>
                        <Button size="compact-sm" variant="default" onClick={() => setEditing(r)} aria-label={t("retention.editLabel", { library: r.library })}>
                          {t("retention.edit")}
                        </Button>
                        {confirmDelete === r.id ? (
                          <Button
                            size="compact-sm"
                            color="red"
                            loading={change.isPending}
                            onClick={() => change.mutate({ kind: "delete", id: r.id })}
                          >
                            {t("retention.deleteConfirm")}
                          </Button>
                        ) : (
                          <Button
                            size="compact-sm"
                            variant="default"
                            onClick={() => setConfirmDelete(r.id)}
                            aria-label={t("retention.deleteLabel", { library: r.library })}
                          >
                            {t("retention.delete")}
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      ) : null}
      {running ? (
        <RunPanel
          key={running}
          rule={running === "all" ? null : (rows.find((r) => r.id === running) ?? null)}
          onClose={() => setRunning(null)}
        />
      ) : null}
    </Stack>
  );
}

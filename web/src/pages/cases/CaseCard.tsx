// One case: its purpose, members (add / remove with cases:manage), "work under this case", close.
import { Alert, Badge, Button, Group, List, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useCurrentCase } from "../../api";
import { formatWhen } from "../admin/format";
import { apiMessage } from "../search/types";
import { CASES_KEY, type CaseOut, isLegalBasis } from "./types";

type Change = { kind: "add"; user: string } | { kind: "remove"; user: string } | { kind: "close" };

function useCaseChange(caseId: string) {
  const { client } = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (change: Change): Promise<CaseOut> => {
      const path = { case_id: caseId };
      const answer =
        change.kind === "add"
          ? await client.POST("/api/v1/cases/{case_id}/members", { params: { path }, body: { user: change.user } })
          : change.kind === "remove"
            ? await client.DELETE("/api/v1/cases/{case_id}/members/{user}", {
                params: { path: { ...path, user: change.user } },
              })
            : await client.POST("/api/v1/cases/{case_id}/close", { params: { path } });
      if (!answer.data) throw new Error(apiMessage(answer.error, answer.response.status));
      return answer.data;
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: CASES_KEY }),
  });
}

export function CaseCard({ item, canManage }: { item: CaseOut; canManage: boolean }) {
  const { t } = useTranslation();
  const [current, setCurrent] = useCurrentCase();
  const change = useCaseChange(item.id);
  const [user, setUser] = useState("");
  const [confirmClose, setConfirmClose] = useState(false);
  const open = item.state === "open";
  const editable = canManage && open;
  const titleId = `case-${item.id}-title`;

  function addMember(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const who = user.trim();
    if (who) change.mutate({ kind: "add", user: who }, { onSuccess: () => setUser("") });
  }

  return (
    <Paper withBorder p="md" radius="md" component="article" aria-labelledby={titleId} data-testid="case-card">
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Title order={3} size="h5" id={titleId} style={{ overflowWrap: "anywhere" }}>
            {item.title}
          </Title>
          <Group gap="xs">
            {current === item.id ? (
              <Badge variant="filled">
                {t("cases.current")}
              </Badge>
            ) : null}
            <Badge color={open ? "green" : "gray"} variant="dot">
              {t(`cases.states.${item.state}`)}
            </Badge>
          </Group>
        </Group>
        <Text size="sm">
          {isLegalBasis(item.legal_basis) ? t(`cases.bases.${item.legal_basis}`) : item.legal_basis} ·{" "}
          {t("cases.opened", { when: formatWhen(item.created_at) })}
          {item.closed_at ? ` · ${t("cases.closedAt", { when: formatWhen(item.closed_at) })}` : ""}
        </Text>
        <Text size="sm" c="dimmed" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
          {item.justification}
        </Text>
        <Text size="xs" c="dimmed" style={{ overflowWrap: "anywhere" }}>
          {t("cases.id", { id: item.id })}
        </Text>
        <Title order={4} size="h6">
          {t("cases.members.title", { count: item.members.length })}
        </Title>
        <List listStyleType="none" spacing={4} aria-label={t("cases.members.list", { title: item.title })}>
          {item.members.map((m) => (
            <List.Item key={m.user_id}>
              <Group gap="xs" wrap="nowrap">
                <Text size="sm">{m.username}</Text>
                {editable ? (
                  <Button
                    variant="subtle"
                    color="red"
                    size="compact-xs"
                    aria-label={t("cases.members.removeLabel", { user: m.username })}
                    loading={change.isPending}
                    onClick={() => change.mutate({ kind: "remove", user: m.username })}
                  >
                    {t("cases.members.remove")}
                  </Button>
                ) : null}
              </Group>
            </List.Item>
          ))}
        </List>
        {editable ? (
          <form onSubmit={addMember}>
            <Group gap="xs" align="flex-end" wrap="wrap">
              <TextInput
                label={t("cases.members.add")}
                description={t("cases.members.addHint")}
                name="member"
                autoComplete="off"
                size="xs"
                style={{ flex: "1 1 10rem" }}
                value={user}
                onChange={(event) => setUser(event.currentTarget.value)}
              />
              <Button type="submit" size="xs" variant="default" disabled={!user.trim()} loading={change.isPending}>
                {t("cases.members.addSubmit")}
              </Button>
            </Group>
          </form>
        ) : null}
        {change.isError ? (
          <Alert color="red" role="alert" title={t("cases.failed")}>
            {change.error.message}
          </Alert>
        ) : null}
        <Group gap="xs" wrap="wrap">
          {open && current !== item.id ? (
            <Button size="xs" onClick={() => setCurrent(item.id)}>
              {t("cases.use")}
            </Button>
          ) : null}
          {editable && !confirmClose ? (
            <Button size="xs" variant="default" color="red" onClick={() => setConfirmClose(true)}>
              {t("cases.close")}
            </Button>
          ) : null}
          {editable && confirmClose ? (
            <>
              <Text size="sm">{t("cases.closeConfirm")}</Text>
              <Button
                size="xs"
                color="red"
                loading={change.isPending}
                onClick={() => change.mutate({ kind: "close" }, { onSettled: () => setConfirmClose(false) })}
              >
                {t("cases.closeYes")}
              </Button>
              <Button size="xs" variant="default" onClick={() => setConfirmClose(false)}>
                {t("cases.closeNo")}
              </Button>
            </>
          ) : null}
        </Group>
      </Stack>
    </Paper>
  );
}

// Add a retention rule, or change one (the rule keeps its id and last run).
import { Alert, Button, Checkbox, Group, NativeSelect, NumberInput, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";
import {
  ACTIONS,
  draftOf,
  draftProblem,
  EMPTY_DRAFT,
  isAction,
  isKind,
  KINDS,
  MAX_DAYS,
  type Rule,
  type RuleDraft,
  ruleBody,
} from "./retention";

export const RULES_KEY = ["get", "/api/v1/retention/rules"] as const;

export function RuleForm({ editing, onDone }: { editing: Rule | null; onDone: () => void }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<RuleDraft>(editing ? draftOf(editing) : EMPTY_DRAFT);
  const [touched, setTouched] = useState(false);
  const set = (patch: Partial<RuleDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const save = useMutation({
    mutationFn: async (body: ReturnType<typeof ruleBody>) => {
      const answer = editing
        ? await client.PATCH("/api/v1/retention/rules/{rule_id}", { params: { path: { rule_id: editing.id } }, body })
        : await client.POST("/api/v1/retention/rules", { body });
      if (!answer.data) throw new Error(apiMessage(answer.error, answer.response.status));
      return answer.data;
    },
    onSuccess: () => {
      setDraft(EMPTY_DRAFT);
      setTouched(false);
      onDone();
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: RULES_KEY }),
  });
  const problem = draftProblem(draft);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setTouched(true);
    if (!problem) save.mutate(ruleBody(draft));
  }

  const titleId = editing ? "rule-edit-title" : "rule-add-title";
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby={titleId}>
      <form onSubmit={submit} aria-labelledby={titleId}>
        <Stack gap="sm">
          <Title order={3} size="h5" id={titleId}>
            {editing ? t("retention.editTitle", { id: editing.id }) : t("retention.addTitle")}
          </Title>
          <Group gap="sm" align="flex-start" wrap="wrap">
            <TextInput
              label={t("retention.library")}
              description={t("retention.libraryHint")}
              required
              maxLength={64}
              value={draft.library}
              onChange={(e) => set({ library: e.currentTarget.value })}
              error={touched && problem?.field === "library" ? t("retention.problems.library") : undefined}
              styles={{ error: { color: "var(--mantine-color-red-9)" }, input: { color: "var(--mantine-color-text)" } }}
              w={200}
            />
            <NativeSelect
              label={t("retention.kind")}
              value={draft.kind}
              onChange={(e) => {
                const value = e.currentTarget.value;
                set({ kind: isKind(value) ? value : "" });
              }}
              data={[
                { value: "", label: t("retention.kinds.all") },
                ...KINDS.map((value) => ({ value, label: t(`retention.kinds.${value}`) })),
              ]}
            />
            <NativeSelect
              label={t("retention.action")}
              value={draft.action}
              onChange={(e) => {
                const value = e.currentTarget.value;
                if (isAction(value)) set({ action: value });
              }}
              data={ACTIONS.map((value) => ({ value, label: t(`retention.actions.${value}`) }))}
            />
            <NumberInput
              label={t("retention.afterDays")}
              required
              min={0}
              max={MAX_DAYS}
              allowDecimal={false}
              allowNegative={false}
              value={draft.afterDays}
              onChange={(value) => set({ afterDays: value })}
              error={touched && problem?.field === "afterDays" ? t("retention.problems.days", { max: MAX_DAYS }) : undefined}
              styles={{ error: { color: "var(--mantine-color-red-9)" }, input: { color: "var(--mantine-color-text)" } }}
              w={150}
            />
          </Group>
          <Text size="xs" c="dimmed">
            {t(`retention.actionHints.${draft.action}`)}
          </Text>
          <Checkbox label={t("retention.enabled")} checked={draft.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          <Group gap="sm">
            <Button type="submit" loading={save.isPending}>
              {editing ? t("retention.saveChanges") : t("retention.add")}
            </Button>
            {editing ? (
              <Button variant="default" onClick={onDone}>
                {t("retention.cancelEdit")}
              </Button>
            ) : null}
          </Group>
          {save.isError ? (
            <Alert color="red" role="alert">
              {t("retention.failed", { reason: save.error.message })}
            </Alert>
          ) : null}
        </Stack>
      </form>
    </Paper>
  );
}

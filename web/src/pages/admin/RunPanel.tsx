// "Run now" for one retention rule (or every enabled one): the dry run's list first, then the
// real run once confirmed, and what it did (deleted, skipped because a job works on them).
import { Alert, Button, Code, Group, List, Loader, Paper, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";
import { isAction, type Rule, type RuleRun, runTotals } from "./retention";
import { RULES_KEY } from "./RuleForm";

const SHOWN = 20; // media ids listed per rule; the count says the rest

function RunList({ runs, dryRun }: { runs: readonly RuleRun[]; dryRun: boolean }) {
  const { t } = useTranslation();
  return (
    <List size="sm" spacing={4}>
      {runs.map((run) => (
        <List.Item key={run.rule_id}>
          <Text size="sm" span fw={600}>
            {t("retention.runRule", {
              library: run.library,
              action: isAction(run.action) ? t(`retention.actions.${run.action}`) : run.action,
              days: run.after_days,
            })}
          </Text>
          {": "}
          <Text size="sm" span>
            {dryRun ? t("retention.wouldDelete", { count: run.count }) : t("retention.deleted", { count: run.count })}
            {run.skipped.length ? ` · ${t("retention.skipped", { count: run.skipped.length })}` : ""}
          </Text>
          {run.media.length ? (
            <Text size="xs" c="dimmed">
              {run.media.slice(0, SHOWN).map((id) => (
                <Code key={id} mr={4}>
                  {id}
                </Code>
              ))}
              {run.media.length > SHOWN ? t("retention.more", { count: run.media.length - SHOWN }) : null}
            </Text>
          ) : null}
        </List.Item>
      ))}
    </List>
  );
}

export function RunPanel({ rule, onClose }: { rule: Rule | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const ruleId = rule?.id ?? null;
  const run = async (dryRun: boolean) => {
    const { data, error, response } = await client.POST("/api/v1/retention/run", {
      body: { dry_run: dryRun, rule_id: ruleId },
    });
    if (!data) throw new Error(apiMessage(error, response.status));
    return data;
  };
  const preview = useQuery({ queryKey: ["retention-preview", ruleId], queryFn: () => run(true), gcTime: 0, staleTime: 0 });
  const apply = useMutation({
    mutationFn: () => run(false),
    onSettled: () => queryClient.invalidateQueries({ queryKey: RULES_KEY }),
  });
  const planned = preview.data ? runTotals(preview.data) : null;
  const done = apply.data ? runTotals(apply.data) : null;
  const title = rule ? t("retention.runTitle", { library: rule.library }) : t("retention.runAllTitle");

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="retention-run-title" data-testid="retention-run">
      <Stack gap="sm">
        <Title order={3} size="h5" id="retention-run-title">
          {title}
        </Title>
        {preview.isPending ? <Loader size="sm" aria-label={t("retention.previewing")} /> : null}
        {preview.isError ? (
          <Alert color="red" role="alert">
            {t("retention.failed", { reason: preview.error.message })}
          </Alert>
        ) : null}
        {preview.data && !apply.data ? (
          <>
            <Text size="sm">{t("retention.previewIntro", { count: planned?.media ?? 0 })}</Text>
            <RunList runs={preview.data} dryRun />
          </>
        ) : null}
        {apply.data ? (
          <Alert color="green" role="status" title={t("retention.ranTitle")} styles={{ title: { color: "var(--mantine-color-text)" } }}>
            <Stack gap={4}>
              <Text size="sm">{t("retention.ran", { count: done?.media ?? 0, skipped: done?.skipped ?? 0 })}</Text>
              <RunList runs={apply.data} dryRun={false} />
            </Stack>
          </Alert>
        ) : null}
        {apply.isError ? (
          <Alert color="red" role="alert">
            {t("retention.failed", { reason: apply.error.message })}
          </Alert>
        ) : null}
        <Group gap="sm">
          {preview.data && !apply.data ? (
            <Button color={planned?.media ? "red" : undefined} loading={apply.isPending} onClick={() => apply.mutate()}>
              {planned?.media ? t("retention.confirmRun", { count: planned.media }) : t("retention.confirmEmptyRun")}
            </Button>
          ) : null}
          <Button variant="default" onClick={onClose} disabled={apply.isPending}>
            {apply.data ? t("retention.close") : t("retention.cancelRun")}
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}

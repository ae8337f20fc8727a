// POST /api/v1/jobs/plan for every uploaded media: per analyzer, what would run and for how long.
import { Badge, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQueries } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { type components, useApi } from "../../api";
import { formatDuration, INFO_COLOR, NEUTRAL_COLOR } from "../dashboard/format";
import { ScrollTable } from "../dashboard/ScrollTable";
import { EstimateView } from "../jobs/EstimateView";
import { combineEstimates } from "../jobs/money";

type Plan = components["schemas"]["PlanOut"];
const STATUSES = ["run", "reused", "disabled", "skipped"] as const;
type PlanStatus = (typeof STATUSES)[number];
const isStatus = (value: string): value is PlanStatus => (STATUSES as readonly string[]).includes(value);

interface Row {
  name: string;
  estimate: number;
  statuses: Map<string, number>;
  reasons: Set<string>;
}

function aggregate(plans: Plan[]): Row[] {
  const rows = new Map<string, Row>();
  for (const plan of plans) {
    for (const a of plan.analyzers) {
      const row = rows.get(a.name) ?? { name: a.name, estimate: 0, statuses: new Map(), reasons: new Set() };
      row.estimate += a.estimate_s;
      row.statuses.set(a.status, (row.statuses.get(a.status) ?? 0) + 1);
      if (a.reason) row.reasons.add(a.reason);
      rows.set(a.name, row);
    }
  }
  return [...rows.values()];
}

export function PlanPreview({ mediaIds, analyzers }: { mediaIds: string[]; analyzers: string[] }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const results = useQueries({
    queries: mediaIds.map((mediaId) => ({
      queryKey: ["plan", mediaId, analyzers],
      queryFn: async () => {
        const { data, error } = await client.POST("/api/v1/jobs/plan", { body: { media_id: mediaId, analyzers } });
        if (!data) throw new Error(JSON.stringify(error));
        return data;
      },
    })),
  });
  const plans = results.flatMap((r) => (r.data ? [r.data] : []));
  const pending = results.some((r) => r.isPending);
  const rows = aggregate(plans);
  const total = plans.reduce((sum, plan) => sum + plan.estimate_s, 0);
  const estimate = combineEstimates(plans.flatMap((plan) => (plan.estimate ? [plan.estimate] : [])));
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="upload-plan-title">
      <Stack gap="sm">
        <Title order={3} size="h4" id="upload-plan-title">
          {t("upload.plan")}
        </Title>
        <Text size="sm" c="dimmed">
          {t("upload.planIntro")}
        </Text>
        {pending ? <Text size="sm">{t("upload.planLoading")}</Text> : null}
        {rows.length > 0 ? (
          <ScrollTable label={t("upload.plan")} minWidth={420}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("upload.analyzer")}</Table.Th>
                <Table.Th>{t("dashboard.status")}</Table.Th>
                <Table.Th>{t("upload.estimate")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => (
                <Table.Tr key={row.name}>
                  <Table.Td>{row.name}</Table.Td>
                  <Table.Td>
                    {[...row.statuses].map(([status, count]) => (
                      <Badge key={status} variant="filled" color={status === "run" ? INFO_COLOR : NEUTRAL_COLOR} mr={4}>
                        {isStatus(status) ? t(`upload.planStatus.${status}`) : status}
                        {mediaIds.length > 1 ? ` × ${count}` : ""}
                      </Badge>
                    ))}
                    {[...row.reasons].map((reason) => (
                      <Text size="xs" c="dimmed" key={reason}>
                        {reason}
                      </Text>
                    ))}
                  </Table.Td>
                  <Table.Td>{formatDuration(row.estimate)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </ScrollTable>
        ) : null}
        {plans.length > 0 ? (
          <Text size="sm" fw={600} data-testid="plan-total">
            {t("upload.planTotal", { duration: formatDuration(total), count: plans.length })}
          </Text>
        ) : null}
        {estimate ? (
          <Stack gap={4} component="section" aria-label={t("cost.estimateTitle")}>
            <Text size="sm" fw={600}>
              {t("cost.estimateTitle")}
            </Text>
            <EstimateView estimate={estimate} />
          </Stack>
        ) : null}
      </Stack>
    </Paper>
  );
}

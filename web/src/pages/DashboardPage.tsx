// The operator's overview (GET /api/v1/dashboard, polled live); roles without system:read, or a
// 403 from the API, get their own jobs instead.
import { Alert, Grid, Group, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../api";
import { errorCode, errorMessage, MyJobs } from "./dashboard/MyJobs";
import { QueueCounts, RecentFailures, RunningJobs } from "./dashboard/JobSections";
import { Models, Storage, Workers } from "./dashboard/SystemSections";
import { PageFrame } from "./PagePlaceholder";

const REFETCH_MS = 3000;

function SystemOverview() {
  const { t, i18n } = useTranslation();
  const { $api } = useApi();
  const query = $api.useQuery("get", "/api/v1/dashboard", {}, { refetchInterval: REFETCH_MS });
  if (query.isPending) return <Text c="dimmed">{t("dashboard.loading")}</Text>;
  if (query.isError) {
    if (errorCode(query.error) === "forbidden") return <Forbidden />;
    return <Alert color="red" title={t("errors.generic", { message: errorMessage(query.error) })} />;
  }
  const data = query.data;
  return (
    <Stack gap="md">
      <Group justify="space-between" gap="xs">
        <Text size="sm" c="dimmed">
          {t("dashboard.live")}
        </Text>
        <Text size="sm" c="dimmed">
          {t("dashboard.updated", {
            time: new Date(query.dataUpdatedAt).toLocaleTimeString(i18n.language),
          })}
        </Text>
      </Group>
      <QueueCounts byState={data.jobs.by_state} />
      <RunningJobs running={data.running} />
      <RecentFailures failures={data.recent_failures} />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <Storage storage={data.storage} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <Workers workers={data.workers} />
        </Grid.Col>
      </Grid>
      <Models models={data.models} />
    </Stack>
  );
}

function Forbidden() {
  const { t } = useTranslation();
  return (
    <Stack gap="md">
      <Alert color="blue">{t("dashboard.forbidden")}</Alert>
      <MyJobs refetchMs={REFETCH_MS} />
    </Stack>
  );
}

export default function DashboardPage() {
  const { t } = useTranslation();
  const { me, can } = useMe();
  return (
    <PageFrame title={t("pages.dashboard.title")} intro={t("pages.dashboard.intro")}>
      {!me ? (
        <Text c="dimmed">{t("dashboard.loading")}</Text>
      ) : can("system:read") ? (
        <SystemOverview />
      ) : can("jobs:read") ? (
        <MyJobs refetchMs={REFETCH_MS} />
      ) : (
        <Alert color="blue">{t("dashboard.noJobs")}</Alert>
      )}
    </PageFrame>
  );
}

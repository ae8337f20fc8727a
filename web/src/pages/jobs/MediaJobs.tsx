// The media's analysis jobs with their cost: estimate vs actual, and Confirm / Reject for a job
// that waits for its estimate to be accepted.
import { Badge, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useId } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { formatTime, isJobState, stateColor } from "../dashboard/format";
import { JobCost } from "./JobCost";

export function MediaJobs({ mediaId }: { mediaId: string }) {
  const { t, i18n } = useTranslation();
  const { $api } = useApi();
  const titleId = useId();
  const jobs = $api.useQuery("get", "/api/v1/jobs", {
    params: { query: { media_id: mediaId, sort: "-created_at", limit: 5 } },
  });
  const items = jobs.data?.items ?? [];
  if (jobs.isError) return null; // a role without jobs:read simply sees no jobs panel
  return (
    <Paper withBorder p="sm" radius="md" component="section" aria-labelledby={titleId} data-testid="media-jobs">
      <Stack gap="xs">
        <Title order={3} size="h5" id={titleId}>
          {t("cost.jobsTitle")}
        </Title>
        {jobs.data && items.length === 0 ? <Text size="sm">{t("cost.noJobs")}</Text> : null}
        {items.map((job) => (
          <Stack gap={4} key={job.id} data-testid="media-job" data-state={job.state}>
            <Group gap="xs" wrap="wrap">
              <Badge color={stateColor(job.state)} variant="filled">
                {isJobState(job.state) ? t(`dashboard.states.${job.state}`) : job.state}
              </Badge>
              <Text size="xs" c="dimmed">
                {t("cost.job", { id: job.id })} · {formatTime(job.created_at, i18n.language)}
              </Text>
            </Group>
            <JobCost job={job} />
          </Stack>
        ))}
      </Stack>
    </Paper>
  );
}

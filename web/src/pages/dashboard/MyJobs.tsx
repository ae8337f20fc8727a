// What a role without system:read sees: its own jobs (GET /api/v1/jobs), refreshed live.
import { Alert, Badge, Group, Progress, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useApi } from "../../api";
import { formatTime, isJobState, percent, stateColor } from "./format";
import { ScrollTable } from "./ScrollTable";
import { Section } from "./Section";

export function MyJobs({ refetchMs }: { refetchMs: number }) {
  const { t, i18n } = useTranslation();
  const { $api } = useApi();
  const jobs = $api.useQuery(
    "get",
    "/api/v1/jobs",
    { params: { query: { limit: 20, sort: "-created_at" } } },
    { refetchInterval: refetchMs },
  );
  if (jobs.isError) {
    return <Alert color="red" title={t("errors.generic", { message: errorMessage(jobs.error) })} />;
  }
  const items = jobs.data?.items ?? [];
  return (
    <Section
      title={t("dashboard.myJobs")}
      empty={jobs.isPending ? t("dashboard.loading") : items.length ? null : t("dashboard.noJobs")}
    >
      <ScrollTable label={t("dashboard.myJobs")} minWidth={520}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("dashboard.media")}</Table.Th>
            <Table.Th>{t("dashboard.state")}</Table.Th>
            <Table.Th>{t("dashboard.progress")}</Table.Th>
            <Table.Th>{t("dashboard.created")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((job) => (
            <Table.Tr key={job.id}>
              <Table.Td>
                <Link to={`/media/${encodeURIComponent(job.media_id)}`}>{job.media_name ?? job.media_id}</Link>
              </Table.Td>
              <Table.Td>
                <Badge color={stateColor(job.state)} variant="filled">
                  {isJobState(job.state) ? t(`dashboard.states.${job.state}`) : job.state}
                </Badge>
              </Table.Td>
              <Table.Td miw={120}>
                <Group gap="xs" wrap="nowrap">
                  <Progress value={percent(job.progress)} flex={1} aria-label={t("dashboard.progress")} />
                  <Text size="xs">{percent(job.progress)} %</Text>
                </Group>
              </Table.Td>
              <Table.Td>{formatTime(job.created_at, i18n.language)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </ScrollTable>
    </Section>
  );
}

/** The API's error body ({error: {code, message}}) or anything thrown. */
export function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "error" in error) {
    const body = (error as { error?: { message?: unknown } }).error;
    if (typeof body?.message === "string") return body.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string | null {
  if (typeof error === "object" && error !== null && "error" in error) {
    const code = (error as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : null;
  }
  return null;
}

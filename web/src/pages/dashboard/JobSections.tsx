// Queue counts, running jobs and recent failures from GET /api/v1/dashboard.
import { Badge, Group, Paper, Progress, SimpleGrid, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { components } from "../../api";
import { formatDuration, formatTime, JOB_STATES, percent, stateColor } from "./format";
import { ScrollTable } from "./ScrollTable";
import { Section } from "./Section";

type Dashboard = components["schemas"]["DashboardOut"];

export function QueueCounts({ byState }: { byState: Record<string, number> }) {
  const { t } = useTranslation();
  return (
    <Section title={t("dashboard.queue")}>
      <SimpleGrid cols={{ base: 2, xs: 3, md: 6 }} spacing="sm">
        {JOB_STATES.map((state) => (
          <Paper key={state} withBorder p="sm" radius="sm" data-testid={`count-${state}`}>
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
              {t(`dashboard.states.${state}`)}
            </Text>
            <Text size="xl" fw={700} c={stateColor(state)} aria-live="polite">
              {byState[state] ?? 0}
            </Text>
          </Paper>
        ))}
      </SimpleGrid>
    </Section>
  );
}

export function RunningJobs({ running }: { running: Dashboard["running"] }) {
  const { t } = useTranslation();
  return (
    <Section title={t("dashboard.running")} empty={running.length ? null : t("dashboard.noRunning")}>
      <ScrollTable label={t("dashboard.running")} minWidth={560}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("dashboard.media")}</Table.Th>
            <Table.Th>{t("dashboard.stage")}</Table.Th>
            <Table.Th>{t("dashboard.progress")}</Table.Th>
            <Table.Th>{t("dashboard.eta")}</Table.Th>
            <Table.Th>{t("dashboard.worker")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {running.map((job) => (
            <Table.Tr key={job.id}>
              <Table.Td>
                <Link to={`/media/${encodeURIComponent(job.media_id)}`}>{job.media_name}</Link>
              </Table.Td>
              <Table.Td>{job.stage || "–"}</Table.Td>
              <Table.Td miw={120}>
                <Group gap="xs" wrap="nowrap">
                  <Progress
                    value={percent(job.progress)}
                    flex={1}
                    aria-label={t("dashboard.progress")}
                  />
                  <Text size="xs">{percent(job.progress)} %</Text>
                </Group>
              </Table.Td>
              <Table.Td>{job.eta_s == null ? t("dashboard.etaUnknown") : formatDuration(job.eta_s)}</Table.Td>
              <Table.Td>{job.worker ?? "–"}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </ScrollTable>
    </Section>
  );
}

export function RecentFailures({ failures }: { failures: Dashboard["recent_failures"] }) {
  const { t, i18n } = useTranslation();
  return (
    <Section title={t("dashboard.failures")} empty={failures.length ? null : t("dashboard.noFailures")}>
      <ScrollTable label={t("dashboard.failures")} minWidth={560}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("dashboard.media")}</Table.Th>
            <Table.Th>{t("dashboard.state")}</Table.Th>
            <Table.Th>{t("dashboard.reason")}</Table.Th>
            <Table.Th>{t("dashboard.finished")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {failures.map((job) => (
            <Table.Tr key={job.id}>
              <Table.Td>
                <Link to={`/media/${encodeURIComponent(job.media_id)}`}>{job.media_name}</Link>
              </Table.Td>
              <Table.Td>
                <Badge color={stateColor(job.state)} variant="filled">
                  {job.state}
                </Badge>
              </Table.Td>
              <Table.Td>
                {job.error ? <Text size="sm">{job.error}</Text> : null}
                {Object.entries(job.analyzers).map(([analyzer, reason]) => (
                  <Text size="sm" key={analyzer}>
                    <Text span fw={600} size="sm">
                      {analyzer}:
                    </Text>{" "}
                    {reason}
                  </Text>
                ))}
              </Table.Td>
              <Table.Td>{formatTime(job.finished_at, i18n.language)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </ScrollTable>
    </Section>
  );
}

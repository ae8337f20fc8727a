// Workers with their heartbeats, storage used and the model table from GET /api/v1/dashboard.
import { Badge, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import type { components } from "../../api";
import { BAD_COLOR, formatBytes, formatTime, NEUTRAL_COLOR, OK_COLOR } from "./format";
import { ScrollTable } from "./ScrollTable";
import { Section } from "./Section";

type Dashboard = components["schemas"]["DashboardOut"];

export function Workers({ workers }: { workers: Dashboard["workers"] }) {
  const { t, i18n } = useTranslation();
  return (
    <Section title={t("dashboard.workers")} empty={workers.length ? null : t("dashboard.noWorkers")}>
      <ScrollTable label={t("dashboard.workers")} minWidth={560}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("dashboard.worker")}</Table.Th>
            <Table.Th>{t("dashboard.state")}</Table.Th>
            <Table.Th>{t("dashboard.heartbeat")}</Table.Th>
            <Table.Th>{t("dashboard.currentJob")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {workers.map((worker) => (
            <Table.Tr key={worker.id}>
              <Table.Td>
                <Text size="sm">{worker.hostname}</Text>
                <Text size="xs" c="dimmed">
                  {worker.id}
                </Text>
              </Table.Td>
              <Table.Td>
                <Badge color={worker.alive ? OK_COLOR : BAD_COLOR} variant="filled">
                  {worker.alive ? t("dashboard.alive") : t("dashboard.dead")}
                </Badge>{" "}
                <Text span size="xs" c="dimmed">
                  {worker.state}
                </Text>
              </Table.Td>
              <Table.Td>{formatTime(worker.heartbeat_at, i18n.language)}</Table.Td>
              <Table.Td>{worker.current_job ?? "–"}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </ScrollTable>
    </Section>
  );
}

export function Storage({ storage }: { storage: Dashboard["storage"] }) {
  const { t, i18n } = useTranslation();
  return (
    <Section title={t("dashboard.storage")}>
      <Text size="xl" fw={700} data-testid="storage-bytes">
        {formatBytes(storage.media_bytes, i18n.language)}
      </Text>
      <Text size="sm" c="dimmed">
        {t("dashboard.mediaCount", { count: storage.media })}
      </Text>
    </Section>
  );
}

function modelColor(status: string, required: boolean): string {
  if (status === "available") return OK_COLOR;
  return required || status !== "missing" ? BAD_COLOR : NEUTRAL_COLOR; // optional and absent: fine
}

export function Models({ models }: { models: Dashboard["models"] }) {
  const { t } = useTranslation();
  return (
    <Section title={t("dashboard.models")} empty={models.length ? null : t("dashboard.noModels")}>
      <ScrollTable label={t("dashboard.models")} minWidth={560}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("dashboard.analyzer")}</Table.Th>
            <Table.Th>{t("dashboard.model")}</Table.Th>
            <Table.Th>{t("dashboard.status")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {models.map((model) => (
            <Table.Tr key={`${model.analyzer}/${model.model}`}>
              <Table.Td>{model.analyzer}</Table.Td>
              <Table.Td>
                <Text size="sm">{model.model}</Text>
                <Text size="xs" c="dimmed">
                  {model.required ? t("dashboard.required") : t("dashboard.optional")}
                  {model.version ? ` · ${model.version}` : ""}
                </Text>
              </Table.Td>
              <Table.Td>
                <Badge color={modelColor(model.status, model.required)} variant="filled">
                  {model.status}
                </Badge>
                {model.detail || model.how_to_get ? (
                  <Text size="xs" c="dimmed">
                    {model.detail || model.how_to_get}
                  </Text>
                ) : null}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </ScrollTable>
    </Section>
  );
}

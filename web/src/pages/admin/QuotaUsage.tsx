// One user's quotas: what was used against each limit and when the window resets. Shared by the
// admin's Quotas tab and everyone's "My usage" panel.
import { Badge, Group, Progress, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { formatMoney } from "../jobs/money";
import { formatWhen } from "./format";
import { formatBytes, formatSeconds, type Quota, type QuotaKey, quotaRows } from "./quotas";

export function useQuotaFormat(currency: string) {
  const { i18n } = useTranslation();
  const language = i18n.language;
  return (key: QuotaKey, value: number): string => {
    switch (key) {
      case "bytes_per_day":
        return formatBytes(value, language);
      case "gpu_seconds_per_month":
        return formatSeconds(value, language);
      case "money_per_month":
        return formatMoney(value, currency, language);
      default:
        return value.toLocaleString(language);
    }
  };
}

export function QuotaUsage({ quota, label }: { quota: Quota; label: string }) {
  const { t } = useTranslation();
  const format = useQuotaFormat(quota.currency);
  return (
    <Table.ScrollContainer minWidth={560} type="native" tabIndex={0} role="group" aria-label={label}>
      <Table aria-label={label} data-testid="quota-usage">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("quotas.quota")}</Table.Th>
            <Table.Th>{t("quotas.used")}</Table.Th>
            <Table.Th>{t("quotas.limit")}</Table.Th>
            <Table.Th>{t("quotas.resets")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {quotaRows(quota).map((row) => (
            <Table.Tr key={row.key} data-testid={`quota-${row.key}`}>
              <Table.Td>{t(`quotas.names.${row.key}`)}</Table.Td>
              <Table.Td miw={140}>
                {row.used === null ? (
                  <Text size="sm" c="dimmed">
                    {t("quotas.notShown")}
                  </Text>
                ) : (
                  <>
                    <Text size="sm">{format(row.key, row.used)}</Text>
                    {row.fraction !== null ? (
                      <Progress
                        value={row.fraction * 100}
                        color={row.fraction >= 1 ? "red" : row.fraction >= 0.8 ? "orange" : "blue"}
                        size="sm"
                        mt={4}
                        aria-label={t("quotas.usedOf", { name: t(`quotas.names.${row.key}`) })}
                      />
                    ) : null}
                  </>
                )}
              </Table.Td>
              <Table.Td>
                <Group gap={6} wrap="nowrap">
                  <Text size="sm">{row.unlimited ? t("quotas.unlimited") : format(row.key, row.limit)}</Text>
                  {row.overridden ? (
                    <Badge size="sm" variant="light">
                      {t("quotas.override")}
                    </Badge>
                  ) : (
                    <Text size="xs" c="dimmed">
                      {t("quotas.default")}
                    </Text>
                  )}
                </Group>
              </Table.Td>
              <Table.Td>{row.resetsAt ? formatWhen(row.resetsAt) : t("quotas.everyMinute")}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

// What a job would cost before it runs: duration, device, money, budget warnings, rented offers.
import { Alert, Group, List, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { formatDuration } from "../dashboard/format";
import { type Estimate, formatMoney } from "./money";

export function EstimateView({ estimate }: { estimate: Estimate }) {
  const { t, i18n } = useTranslation();
  const money = (amount: number) => formatMoney(amount, estimate.currency, i18n.language);
  const facts: [string, string][] = [
    [t("cost.duration"), formatDuration(estimate.duration_s)],
    [t("cost.device"), estimate.device],
    [t("cost.money"), estimate.amount > 0 ? money(estimate.amount) : t("cost.free")],
  ];
  return (
    <Stack gap={6} data-testid="estimate">
      <Group gap="lg" wrap="wrap">
        {facts.map(([label, value]) => (
          <Text size="sm" key={label}>
            <Text span fw={600} size="sm">
              {label}:
            </Text>{" "}
            {value}
          </Text>
        ))}
      </Group>
      {estimate.confirmation_required ? (
        <Text size="sm" fw={600}>
          {t("cost.needsConfirmation")}
        </Text>
      ) : null}
      {estimate.warnings.length > 0 ? (
        <Alert color="orange" title={t("cost.warnings")} role="note">
          <List size="sm">
            {estimate.warnings.map((w) => (
              <List.Item key={w}>{w}</List.Item>
            ))}
          </List>
        </Alert>
      ) : null}
      {estimate.budgets.length > 0 ? (
        <List size="xs" c="dimmed">
          {estimate.budgets.map((b) => (
            <List.Item key={b.id}>
              {t("cost.budget", {
                scope: b.scope === "user" || b.scope === "project" ? t(`budgets.scopes.${b.scope}`) : b.scope,
                subject: b.subject,
                spent: money(b.spent),
                hard: money(b.hard_limit),
              })}
            </List.Item>
          ))}
        </List>
      ) : null}
      {estimate.offers.length > 0 ? (
        <div>
          <Text size="sm" fw={600}>
            {t("cost.offers")}
          </Text>
          <List size="xs">
            {estimate.offers.map((o) => (
              <List.Item key={`${o.provider}-${o.gpu_type}-${o.region ?? ""}`}>
                {t("cost.offer", {
                  provider: o.provider,
                  gpu: o.gpu_type,
                  memory: o.gpu_memory_gb,
                  price: money(o.price_per_hour),
                  amount: money(o.amount),
                })}
                {o.region ? ` · ${o.region}` : ""}
                {o.available ? "" : ` · ${t("cost.unavailable")}`}
              </List.Item>
            ))}
          </List>
        </div>
      ) : null}
    </Stack>
  );
}

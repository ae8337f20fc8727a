// "My usage": the signed-in user's own quotas (GET /api/v1/me/quota): what today's uploads and
// this month's jobs used against each limit, and when each window resets.
import { Paper, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { QuotaUsage } from "../admin/QuotaUsage";

export const MY_QUOTA_KEY = ["get", "/api/v1/me/quota"] as const;

export function MyUsage() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const quota = $api.useQuery("get", "/api/v1/me/quota");
  if (!quota.data) return null; // usage is a courtesy here: the upload works without it
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="my-usage-title" data-testid="my-usage">
      <Stack gap="xs">
        <Title order={3} size="h4" id="my-usage-title">
          {t("quotas.mine")}
        </Title>
        <Text size="sm" c="dimmed">
          {t("quotas.mineIntro")}
        </Text>
        <QuotaUsage quota={quota.data} label={t("quotas.mine")} />
      </Stack>
    </Paper>
  );
}

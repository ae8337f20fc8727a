// A page's title and intro; the pages other features fill in start from this.
import { Stack, Text, Title } from "@mantine/core";
import { type ReactNode, useEffect } from "react";
import { useTranslation } from "react-i18next";

export function PageFrame({ title, intro, children }: { title: string; intro?: string; children?: ReactNode }) {
  const { t } = useTranslation();
  useEffect(() => {
    document.title = `${title} · ${t("app.name")}`;
  }, [title, t]);
  return (
    <Stack gap="md">
      <Title order={2}>{title}</Title>
      {intro ? <Text c="dimmed">{intro}</Text> : null}
      {children}
    </Stack>
  );
}

export function ComingSoon() {
  const { t } = useTranslation();
  return <Text>{t("pages.comingSoon")}</Text>;
}

// What a signed-in user sees on a page (or part of one) their role may not use.
import { Alert } from "@mantine/core";
import { useTranslation } from "react-i18next";

export function NotAllowed() {
  const { t } = useTranslation();
  return (
    <Alert
      color="orange"
      title={t("notAllowed.title")}
      data-testid="not-allowed"
      styles={{ title: { color: "var(--mantine-color-text)" } }}
    >
      {t("notAllowed.body")}
    </Alert>
  );
}

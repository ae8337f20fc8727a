import { NativeSelect } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { isLanguage, LANGUAGES } from "../i18n";

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <NativeSelect
      aria-label={t("language.label")}
      size="xs"
      value={i18n.resolvedLanguage ?? i18n.language}
      data={LANGUAGES.map((lng) => ({ value: lng, label: t(`language.${lng}`) }))}
      onChange={(event) => {
        const lng = event.currentTarget.value;
        if (isLanguage(lng)) void i18n.changeLanguage(lng);
      }}
    />
  );
}

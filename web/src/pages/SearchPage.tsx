import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function SearchPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.search.title")} intro={t("pages.search.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

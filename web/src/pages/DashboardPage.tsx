import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function DashboardPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.dashboard.title")} intro={t("pages.dashboard.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

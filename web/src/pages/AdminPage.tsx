import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function AdminPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.admin.title")} intro={t("pages.admin.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

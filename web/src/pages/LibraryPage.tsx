import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function LibraryPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.library.title")} intro={t("pages.library.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

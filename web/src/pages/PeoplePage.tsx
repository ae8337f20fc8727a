import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function PeoplePage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.people.title")} intro={t("pages.people.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

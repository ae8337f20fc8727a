import { useTranslation } from "react-i18next";
import { ComingSoon, PageFrame } from "./PagePlaceholder";

export default function UploadPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.upload.title")} intro={t("pages.upload.intro")}>
      <ComingSoon />
    </PageFrame>
  );
}

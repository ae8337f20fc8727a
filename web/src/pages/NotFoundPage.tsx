import { Anchor } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { PageFrame } from "./PagePlaceholder";

export default function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <PageFrame title={t("pages.notFound.title")}>
      <Anchor component={Link} to="/">
        {t("pages.notFound.back")}
      </Anchor>
    </PageFrame>
  );
}

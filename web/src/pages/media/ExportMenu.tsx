// Downloads of the media's analysis: links to GET /api/v1/media/{id}/export (the session cookie
// authorises them; every export is audited by the API).
import { Button, Menu } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useCurrentCase, withCase } from "../../api";

export const EXPORT_FORMATS = ["json", "csv", "vtt", "srt", "pdf"] as const;

/** The export link; exports run under a case, named in `?case=` (a download sends no headers). */
export function exportUrl(mediaId: string, format: (typeof EXPORT_FORMATS)[number], caseId: string | null = null): string {
  return withCase(`/api/v1/media/${encodeURIComponent(mediaId)}/export?format=${format}`, caseId);
}

export function ExportMenu({ mediaId }: { mediaId: string }) {
  const { t } = useTranslation();
  const [currentCase] = useCurrentCase();
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <Button variant="default">{t("media.export.button")}</Button>
      </Menu.Target>
      <Menu.Dropdown>
        {currentCase ? null : <Menu.Label>{t("cases.exportHint")}</Menu.Label>}
        {EXPORT_FORMATS.map((format) => (
          <Menu.Item key={format} component="a" href={exportUrl(mediaId, format, currentCase)} download>
            {t(`media.export.${format}`)}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

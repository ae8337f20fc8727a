// Downloads of the media's analysis: links to GET /api/v1/media/{id}/export (the session cookie
// authorises them; every export is audited by the API).
import { Button, Menu } from "@mantine/core";
import { useTranslation } from "react-i18next";

export const EXPORT_FORMATS = ["json", "csv", "vtt", "srt", "pdf"] as const;

export function exportUrl(mediaId: string, format: (typeof EXPORT_FORMATS)[number]): string {
  return `/api/v1/media/${encodeURIComponent(mediaId)}/export?format=${format}`;
}

export function ExportMenu({ mediaId }: { mediaId: string }) {
  const { t } = useTranslation();
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <Button variant="default">{t("media.export.button")}</Button>
      </Menu.Target>
      <Menu.Dropdown>
        {EXPORT_FORMATS.map((format) => (
          <Menu.Item key={format} component="a" href={exportUrl(mediaId, format)} download>
            {t(`media.export.${format}`)}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

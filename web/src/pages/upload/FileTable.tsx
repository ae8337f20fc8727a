// The chosen files, each with its upload progress and the server's outcome.
import { ActionIcon, Badge, Progress, Stack, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { formatBytes, INFO_COLOR, OK_COLOR } from "../dashboard/format";
import { ScrollTable } from "../dashboard/ScrollTable";
import type { Outcome } from "./sendFile";

export type ItemState = { kind: "queued" } | { kind: "uploading"; progress: number } | ({ kind: "done" } & Outcome);

export interface Item {
  id: string;
  file: File;
  path: string;
  state: ItemState;
}

function StateCell({ item }: { item: Item }) {
  const { t } = useTranslation();
  const state = item.state;
  if (state.kind === "queued") return <Text size="sm">{t("upload.status.queued")}</Text>;
  if (state.kind === "uploading") {
    const percent = Math.round(state.progress * 100);
    return (
      <Stack gap={4}>
        <Text size="sm">{t("upload.status.uploading", { percent })}</Text>
        <Progress value={percent} aria-label={t("upload.progressLabel", { name: item.path })} />
      </Stack>
    );
  }
  if (state.status === "created" || state.status === "duplicate") {
    return (
      <Badge color={state.status === "created" ? OK_COLOR : INFO_COLOR} variant="filled" component={Link}
        to={`/media/${encodeURIComponent(state.mediaId)}`} style={{ cursor: "pointer" }}>
        {t(`upload.status.${state.status}`)}
      </Badge>
    );
  }
  return (
    <Text size="sm" c="red.9" role="status">
      {t(`upload.status.${state.status}`, { reason: "reason" in state ? state.reason : "" })}
    </Text>
  );
}

export function FileTable({ items, onRemove }: { items: Item[]; onRemove?: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  if (items.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        {t("upload.noFiles")}
      </Text>
    );
  }
  return (
    <ScrollTable label={t("upload.files")} minWidth={480}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("upload.files")}</Table.Th>
          <Table.Th>{t("upload.size")}</Table.Th>
          <Table.Th>{t("upload.outcome")}</Table.Th>
          {onRemove ? <Table.Th aria-label={t("upload.clear")} /> : null}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {items.map((item) => (
          <Table.Tr key={item.id} data-testid="upload-row">
            <Table.Td style={{ overflowWrap: "anywhere", minWidth: 160 }}>{item.path}</Table.Td>
            <Table.Td style={{ whiteSpace: "nowrap" }}>{formatBytes(item.file.size, i18n.language)}</Table.Td>
            <Table.Td>
              <StateCell item={item} />
            </Table.Td>
            {onRemove ? (
              <Table.Td>
                <ActionIcon variant="subtle" color="gray" aria-label={t("upload.remove", { name: item.path })}
                  onClick={() => onRemove(item.id)}>
                  ×
                </ActionIcon>
              </Table.Td>
            ) : null}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </ScrollTable>
  );
}

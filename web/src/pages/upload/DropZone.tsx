// Drag & drop of files and folders, plus buttons for a file and a folder chooser (keyboard users).
import { Button, Group, Paper, Stack, Text } from "@mantine/core";
import { type DragEvent, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { filesFromDrop, filesFromList, type Picked } from "./collectFiles";

export function DropZone({ onPick, disabled }: { onPick: (files: Picked[]) => void; disabled?: boolean }) {
  const { t } = useTranslation();
  const [over, setOver] = useState(false);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  function drop(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setOver(false);
    if (disabled) return;
    void filesFromDrop(event.dataTransfer).then(onPick);
  }

  function dragOver(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    event.dataTransfer.dropEffect = disabled ? "none" : "copy";
    setOver(true);
  }

  return (
    <Paper
      withBorder
      p="lg"
      radius="md"
      role="region"
      aria-label={t("upload.dropRegion")}
      onDragOver={dragOver}
      onDragEnter={dragOver}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
      data-testid="drop-zone"
      style={{
        borderStyle: "dashed",
        borderWidth: 2,
        borderColor: over ? "var(--mantine-primary-color-filled)" : undefined,
        background: over ? "var(--mantine-primary-color-light)" : undefined,
      }}
    >
      <Stack gap="xs" align="center" ta="center">
        <Text fw={600}>{t("upload.dropTitle")}</Text>
        <Text size="sm" c="dimmed">
          {t("upload.dropHint")}
        </Text>
        <Group gap="sm" justify="center">
          <Button variant="filled" disabled={disabled} onClick={() => filesInput.current?.click()}>
            {t("upload.chooseFiles")}
          </Button>
          <Button variant="default" disabled={disabled} onClick={() => folderInput.current?.click()}>
            {t("upload.chooseFolder")}
          </Button>
        </Group>
      </Stack>
      <input
        ref={filesInput}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        onChange={(event) => {
          onPick(filesFromList(event.currentTarget.files));
          event.currentTarget.value = "";
        }}
      />
      <input
        ref={(element) => {
          folderInput.current = element;
          element?.setAttribute("webkitdirectory", "");
        }}
        type="file"
        multiple
        hidden
        data-testid="folder-input"
        onChange={(event) => {
          onPick(filesFromList(event.currentTarget.files));
          event.currentTarget.value = "";
        }}
      />
    </Paper>
  );
}

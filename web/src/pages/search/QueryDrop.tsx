// Choose a query file: a real file input (keyboard, screen readers) plus a drop zone.
import { Button, FileButton, Group, Paper, Stack, Text } from "@mantine/core";
import { type DragEvent, useState } from "react";
import { useTranslation } from "react-i18next";

export function QueryDrop({
  accept,
  label,
  hint,
  busy,
  file,
  onFile,
}: {
  accept: string;
  label: string;
  hint: string;
  busy: boolean;
  file: File | null;
  onFile: (file: File) => void;
}) {
  const { t } = useTranslation();
  const [over, setOver] = useState(false);
  function drop(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setOver(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) onFile(dropped);
  }
  return (
    <Paper
      withBorder
      p="md"
      radius="md"
      data-testid="query-drop"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
      style={{ borderStyle: "dashed", borderColor: over ? "var(--mantine-color-blue-6)" : undefined }}
    >
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{hint}</Text>
        <Group gap="sm" wrap="wrap">
          <FileButton onChange={(f) => f && onFile(f)} accept={accept} inputProps={{ "aria-label": label }}>
            {(props) => (
              <Button {...props} loading={busy}>
                {label}
              </Button>
            )}
          </FileButton>
          {file ? (
            <Text size="sm" c="dimmed" style={{ overflowWrap: "anywhere" }}>
              {t("search.example.chosen", { name: file.name })}
            </Text>
          ) : null}
        </Group>
      </Stack>
    </Paper>
  );
}

// A person's name that turns into a text field: Enter saves, Escape cancels.
import { ActionIcon, Group, TextInput, Tooltip } from "@mantine/core";
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { useCorrections } from "./corrections";

export function RenameInline({
  personId,
  name,
  label,
  canEdit,
}: {
  personId: string;
  name: string | null | undefined;
  label: ReactNode;
  canEdit: boolean;
}) {
  const { t } = useTranslation();
  const { client } = useApi();
  const { run } = useCorrections();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(name ?? "");

  if (!editing) {
    return (
      <Group gap={4} wrap="nowrap" style={{ minWidth: 0 }}>
        {label}
        {canEdit ? (
          <Tooltip label={t("people.rename")}>
            <ActionIcon
              variant="subtle"
              size="sm"
              aria-label={t("people.renameNamed", { name: name ?? personId })}
              onClick={() => {
                setValue(name ?? "");
                setEditing(true);
              }}
            >
              ✎
            </ActionIcon>
          </Tooltip>
        ) : null}
      </Group>
    );
  }

  const save = async () => {
    setEditing(false);
    const next = value.trim() || null;
    if (next === (name ?? null)) return;
    await run(t("people.renamed", { name: next ?? t("people.noName") }), () =>
      client.PATCH("/api/v1/persons/{person_id}", {
        params: { path: { person_id: personId } },
        body: { name: next },
      }),
    );
  };
  return (
    <TextInput
      size="xs"
      autoFocus
      aria-label={t("people.nameField")}
      value={value}
      maxLength={256}
      onChange={(e) => setValue(e.currentTarget.value)}
      onBlur={() => void save()}
      onKeyDown={(e) => {
        if (e.key === "Enter") void save();
        if (e.key === "Escape") setEditing(false);
      }}
    />
  );
}

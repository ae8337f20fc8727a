// The corrections of this person (and of those merged into it), newest first, each undoable.
import { Button, Group, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { useCorrections } from "./corrections";

export function CorrectionsList({ personId, canManage }: { personId: string; canManage: boolean }) {
  const { t, i18n } = useTranslation();
  const { $api } = useApi();
  const { undo } = useCorrections();
  const query = $api.useQuery("get", "/api/v1/persons/{person_id}/corrections", {
    params: { path: { person_id: personId } },
  });
  const items = query.data ?? [];
  return (
    <Stack gap="xs" component="section" aria-labelledby="corr-title">
      <Title order={3} id="corr-title">
        {t("people.corrections")}
      </Title>
      {query.isSuccess && !items.length ? <Text size="sm">{t("people.noCorrections")}</Text> : null}
      {items.map((c) => (
        <Group key={c.id} justify="space-between" wrap="wrap" gap="xs">
          <Text size="sm" td={c.undone_at ? "line-through" : undefined}>
            {t(`people.kinds.${c.kind as "merge"}`, { defaultValue: c.kind })} · {c.actor} ·{" "}
            {new Date(c.created_at).toLocaleString(i18n.language)}
            {c.undone_at ? ` · ${t("people.wasUndone")}` : ""}
          </Text>
          {canManage && !c.undone_at ? (
            <Button
              size="compact-xs"
              variant="default"
              aria-label={t("people.undoNamed", { kind: t(`people.kinds.${c.kind as "merge"}`, { defaultValue: c.kind }) })}
              onClick={() => void undo(c.id)}
            >
              {t("people.undo")}
            </Button>
          ) : null}
        </Group>
      ))}
    </Stack>
  );
}

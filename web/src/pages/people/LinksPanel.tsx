// Face <-> voice links the identity engine suggested or made: confirm or reject each one.
import { Badge, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link as RouterLink } from "react-router";
import { useApi } from "../../api";
import { useCorrections } from "./corrections";
import { type Link, personLabel } from "./types";

export function LinksPanel({
  canManage,
  links,
  names,
}: {
  canManage: boolean;
  /** Links to show; when absent, every undecided link in the library. */
  links?: Link[];
  names?: Record<string, string | null>;
}) {
  const { t } = useTranslation();
  const { $api, client } = useApi();
  const { run } = useCorrections();
  const all = $api.useQuery("get", "/api/v1/persons/links", {}, { enabled: links === undefined });
  const shown = (links ?? all.data ?? []).filter((lk) => lk.state !== "rejected");
  if (!shown.length) return null;

  const label = (id: string) => personLabel(t, id, names?.[id]);
  const decide = (lk: Link, confirm: boolean) =>
    run(t(confirm ? "people.linkConfirmed" : "people.linkRejected"), () =>
      client.POST(confirm ? "/api/v1/persons/links/{link_id}/confirm" : "/api/v1/persons/links/{link_id}/reject", {
        params: { path: { link_id: lk.id } },
      }),
    );

  return (
    <Stack gap="xs" component="section" aria-labelledby="links-title">
      <Title order={3} id="links-title">
        {t("people.links")}
      </Title>
      {shown.map((lk) => (
        <Paper key={lk.id} withBorder p="xs">
          <Group justify="space-between" wrap="wrap" gap="xs">
            <Text size="sm">
              <RouterLink to={`/people/${lk.face_person_id}`}>{label(lk.face_person_id)}</RouterLink>
              {" ↔ "}
              <RouterLink to={`/people/${lk.voice_person_id}`}>{label(lk.voice_person_id)}</RouterLink>
            </Text>
            <Group gap="xs">
              <Badge variant="light">{t(`people.linkState.${lk.state as "suggested"}`, { defaultValue: lk.state })}</Badge>
              <Text size="xs" c="dimmed">
                {t("people.confidence", { value: Math.round(lk.confidence * 100) })}
              </Text>
              {canManage && lk.state !== "confirmed" ? (
                <>
                  <Button size="compact-xs" onClick={() => void decide(lk, true)}>
                    {t("people.confirm")}
                  </Button>
                  <Button size="compact-xs" variant="default" onClick={() => void decide(lk, false)}>
                    {t("people.reject")}
                  </Button>
                </>
              ) : null}
            </Group>
          </Group>
        </Paper>
      ))}
    </Stack>
  );
}

// "Seen before?": observations elsewhere in the library close to this person's, not theirs.
import { Anchor, Avatar, Group, List, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { caseProblem, useApi } from "../../api";
import { CaseRequired } from "../cases/CaseRequired";
import { artifactUrl, mediaLink, personLabel, type SeenBeforeMatch, seconds } from "./types";

export function SeenBefore({ personId }: { personId: string }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const query = $api.useQuery("get", "/api/v1/persons/{person_id}/seen-before", {
    params: { path: { person_id: personId } },
  });
  const matches = ((query.data as { matches?: SeenBeforeMatch[] } | undefined)?.matches ?? []).slice(0, 20);
  return (
    <Stack gap="xs" component="section" aria-labelledby="seen-title">
      <Title order={3} id="seen-title">
        {t("people.seenBefore")}
      </Title>
      {query.isSuccess && !matches.length ? <Text size="sm">{t("people.seenNone")}</Text> : null}
      {query.isError && caseProblem(query.error) ? <CaseRequired error={query.error} purpose="seenBefore" /> : null}
      {query.isError && !caseProblem(query.error) ? <Text c="red">{t("people.failed")}</Text> : null}
      <List listStyleType="none" spacing={4}>
        {matches.map((m) => (
          <List.Item key={m.observation_id}>
            <Group gap="xs" wrap="nowrap">
              {m.crop ? <Avatar src={artifactUrl(m.media_id, m.crop)} alt="" size={32} radius="sm" /> : null}
              <Text size="sm">
                <Anchor component={Link} to={mediaLink(m.media_id, m.start)}>
                  {m.media_name ?? m.media_id} · {seconds(m.start)}
                </Anchor>{" "}
                {t("people.score", { value: Math.round(m.score * 100) })}
                {m.person_id ? (
                  <>
                    {" · "}
                    <Anchor component={Link} to={`/people/${m.person_id}`}>
                      {personLabel(t, m.person_id, null)}
                    </Anchor>
                  </>
                ) : null}
              </Text>
            </Group>
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}

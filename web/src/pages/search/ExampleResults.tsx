// One query face / voice and what it matched: ranked persons, then the matching appearances.
import { Anchor, Badge, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { AuthImage, FaceCrop } from "./AuthImage";
import { clock, LIST, mediaLink, percent, type QueryHit } from "./types";

export function ExampleResults({
  kind,
  hit,
  index,
  preview,
}: {
  kind: "face" | "voice";
  hit: QueryHit;
  index: number;
  preview: string | null;
}) {
  const { t } = useTranslation();
  const title =
    kind === "face" ? t("search.face.queryFace", { n: index + 1 }) : t("search.voice.querySpeaker", { n: index + 1 });
  const unnamed = t("search.example.unnamed");
  return (
    <Paper withBorder p="sm" radius="md" component="section" aria-label={title} data-testid="query-result">
      <Stack gap="sm">
        <Group gap="sm" wrap="nowrap">
          {preview && hit.face ? <FaceCrop src={preview} box={hit.face.box} label={title} /> : null}
          <Title order={3} size="h5">
            {title}
          </Title>
        </Group>
        {hit.persons.length === 0 ? (
          <Text size="sm" c="dimmed">
            {t("search.example.noMatch")}
          </Text>
        ) : (
          <>
            <Title order={4} size="h6">
              {t("search.example.persons")}
            </Title>
            <ol style={LIST} data-testid="person-hits">
              {hit.persons.map((person) => {
                const first = person.appearances[0];
                return (
                  <li key={person.person_id}>
                    <Group gap="xs" wrap="wrap">
                      <Text fw={600}>{person.name ?? unnamed}</Text>
                      <Badge variant="light" aria-label={t("search.score", { score: percent(person.score) })}>
                        {percent(person.score)}
                      </Badge>
                      <Text size="sm" c="dimmed">
                        {t("search.example.appearances", { count: person.appearances.length })}
                      </Text>
                      {first ? (
                        <Anchor component={Link} to={mediaLink(first.media_id, first.start)} size="sm">
                          {t("search.example.best", { time: clock(first.start) })}
                        </Anchor>
                      ) : null}
                    </Group>
                  </li>
                );
              })}
            </ol>
            <Title order={4} size="h6">
              {t("search.example.observations")}
            </Title>
            <ol style={LIST}>
              {hit.observations.map((obs) => (
                <li key={obs.observation_id}>
                  <Group gap="sm" wrap="nowrap" align="center">
                    {obs.crop ? (
                      <AuthImage mediaId={obs.media_id} sha256={obs.crop} alt={t("search.example.crop")} size={48} />
                    ) : null}
                    <Stack gap={0} style={{ minWidth: 0 }}>
                      <Anchor component={Link} to={mediaLink(obs.media_id, obs.start)} style={{ overflowWrap: "anywhere" }}>
                        {t("search.hitAt", { media: obs.media_name ?? obs.media_id, time: clock(obs.start) })}
                      </Anchor>
                      <Text size="xs" c="dimmed">
                        {t("search.score", { score: percent(obs.score) })}
                      </Text>
                    </Stack>
                  </Group>
                </li>
              ))}
            </ol>
          </>
        )}
      </Stack>
    </Paper>
  );
}

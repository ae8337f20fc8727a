// The dossier: sections of facts, each fact's citations open the media at the cited time.
import { Anchor, Button, Group, List, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { caseProblem, useApi, useCurrentCase, withCase } from "../../api";
import { CaseRequired } from "../cases/CaseRequired";
import { factAnchor } from "../summary/SummaryPanel";
import { type Dossier, type Fact, mediaLink } from "./types";

const SECTIONS = [
  "appearances",
  "representative_faces",
  "voice_samples",
  "emotions",
  "said",
  "text_seen",
  "flags",
  "appears_with",
  "voice_links",
] as const;

function timestamp(t: number): string {
  const m = Math.floor(t / 60);
  const s = t - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

function FactItem({ fact }: { fact: Fact }) {
  const { t } = useTranslation();
  return (
    <List.Item id={factAnchor(fact.id)} tabIndex={-1}>
      <Text size="sm" span>
        {fact.statement}{" "}
      </Text>
      {fact.citations.map((c, i) => (
        <Anchor
          key={`${c.media_id}-${c.start}-${i}`}
          component={Link}
          to={mediaLink(c.media_id, c.start)}
          size="sm"
          mr={6}
          title={t("people.citation", { media: c.media_name, time: timestamp(c.start) })}
        >
          [{fact.id}: {c.media_name} {timestamp(c.start)}]
        </Anchor>
      ))}
    </List.Item>
  );
}

export function DossierView({ personId }: { personId: string }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const query = $api.useQuery("get", "/api/v1/persons/{person_id}/dossier", {
    params: { path: { person_id: personId }, query: { format: "json" } },
  });
  const dossier = query.data as Dossier | undefined;
  const [currentCase] = useCurrentCase();
  const needsCase = query.isError && caseProblem(query.error) !== null;
  const facts = new Map((dossier?.facts ?? []).map((f) => [f.id, f]));

  return (
    <Stack gap="xs" component="section" aria-labelledby="dossier-title">
      <Group justify="space-between">
        <Title order={3} id="dossier-title">
          {t("people.dossier")}
        </Title>
        {needsCase ? null : (
          <Button
            component="a"
            href={withCase(`/api/v1/persons/${encodeURIComponent(personId)}/dossier?format=md`, currentCase)}
            download
            variant="default"
            size="compact-sm"
          >
            {t("people.downloadMd")}
          </Button>
        )}
      </Group>
      {query.isPending ? <Text size="sm">{t("people.loading")}</Text> : null}
      {needsCase ? <CaseRequired error={query.error} purpose="dossier" /> : null}
      {query.isError && !needsCase ? <Text c="red">{t("people.failed")}</Text> : null}
      {SECTIONS.map((name) => {
        const ids = dossier?.sections[name] ?? [];
        if (!ids.length) return null;
        return (
          <div key={name}>
            <Title order={4} size="h5">
              {t(`people.sections.${name}`)}
            </Title>
            <List spacing={4}>
              {ids.map((id) => {
                const fact = facts.get(id);
                return fact ? <FactItem key={id} fact={fact} /> : null;
              })}
            </List>
          </div>
        );
      })}
      {dossier?.notes.length ? (
        <Text size="xs" c="dimmed">
          {dossier.notes.join(" ")}
        </Text>
      ) : null}
    </Stack>
  );
}

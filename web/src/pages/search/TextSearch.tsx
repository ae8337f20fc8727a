// Search transcripts and on-screen text; every hit opens the media view at its moment.
import { Alert, Anchor, Badge, Button, Group, Paper, SegmentedControl, Stack, Text, TextInput } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { type TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { type components, useApi } from "../../api";
import { apiMessage, clock, LIST, mediaLink, snippetParts } from "./types";

type TextHit = components["schemas"]["TextHitOut"];
type Mode = components["schemas"]["TextSearchOut"]["mode"];
const MODES: readonly Mode[] = ["fulltext", "semantic", "hybrid"];
const isMode = (value: string): value is Mode => (MODES as readonly string[]).includes(value);
const PAGE = 20;
const SOURCE_COLORS: Record<string, string> = { ocr: "grape", scene: "teal", object: "orange" };

export function TextSearch() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const [draft, setDraft] = useState("");
  const [query, setQuery] = useState("");
  const [offset, setOffset] = useState(0);
  // null: the API's default (hybrid when semantic search is on, else full text)
  const [mode, setMode] = useState<Mode | null>(null);
  const hits = $api.useQuery(
    "get",
    "/api/v1/search/text",
    { params: { query: { q: query, limit: PAGE, offset, mode: mode ?? undefined } } },
    { enabled: query !== "" },
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setQuery(draft.trim());
    setOffset(0);
  }

  const results = (hits.data?.results ?? []) as TextHit[];
  return (
    <Stack gap="md">
      <form onSubmit={submit} role="search" aria-label={t("search.text.label")}>
        <Group gap="sm" align="flex-end" wrap="wrap">
          <TextInput
            label={t("search.text.label")}
            description={t("search.text.hint")}
            name="q"
            value={draft}
            maxLength={500}
            onChange={(event) => setDraft(event.currentTarget.value)}
            style={{ flex: "1 1 16rem" }}
          />
          <Button type="submit" disabled={draft.trim() === ""} loading={hits.isFetching}>
            {t("search.text.submit")}
          </Button>
        </Group>
        <Group gap="sm" mt="sm" align="center">
          <Text size="sm" fw={500} id="text-search-mode">
            {t("search.text.mode")}
          </Text>
          <SegmentedControl
            aria-labelledby="text-search-mode"
            value={mode ?? hits.data?.mode ?? ""}
            onChange={(value) => {
              if (!isMode(value)) return;
              setMode(value);
              setOffset(0);
            }}
            data={MODES.map((value) => ({
              value,
              label: t(`search.text.modes.${value}`),
              disabled: hits.data?.semantic === false && value !== "fulltext",
            }))}
          />
        </Group>
      </form>
      {hits.isError ? (
        <Alert color="red" role="alert" title={t("search.example.rejected")}>
          {apiMessage(hits.error)}
        </Alert>
      ) : null}
      {hits.data ? (
        <Stack gap="sm" aria-live="polite">
          <Text size="sm">
            {results.length === 0 && offset === 0
              ? t("search.text.none", { q: query })
              : t("search.text.showing", { from: offset + 1, to: offset + results.length, q: query })}
          </Text>
          <ol style={LIST} data-testid="text-hits">
            {results.map((hit) => (
              <li key={hit.segment_id}>
                <TextHitCard hit={hit} />
              </li>
            ))}
          </ol>
          {offset > 0 || results.length === PAGE ? (
            <Group gap="sm">
              <Button variant="default" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                {t("search.previous")}
              </Button>
              <Button variant="default" disabled={results.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
                {t("search.next")}
              </Button>
            </Group>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}

function TextHitCard({ hit }: { hit: TextHit }) {
  const { t } = useTranslation();
  const who = hit.person_name ?? hit.speaker;
  return (
    <Paper withBorder p="sm" radius="md">
      <Stack gap={4}>
        <Group gap="xs" wrap="wrap">
          <Anchor component={Link} to={mediaLink(hit.media_id, hit.start)} fw={600} style={{ overflowWrap: "anywhere" }}>
            {t("search.hitAt", { media: hit.media_name ?? hit.media_id, time: clock(hit.start) })}
          </Anchor>
          <Badge variant="light" color={SOURCE_COLORS[hit.source] ?? "blue"}>
            {sourceLabel(t, hit.source)}
          </Badge>
          {hit.matched_by.map((how) => (
            <Badge key={how} variant="outline" color={how === "semantic" ? "violet.9" : "gray.8"} data-testid="matched-by">
              {t(`search.text.foundBy.${how}`)}
            </Badge>
          ))}
          {who ? (
            <Text size="sm" c="dimmed">
              {t("search.text.speaker", { name: who })}
            </Text>
          ) : null}
        </Group>
        <Text size="sm">
          {snippetParts(hit.snippet).map((part, i) => (part.marked ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
        </Text>
      </Stack>
    </Paper>
  );
}

function sourceLabel(t: TFunction, source: string): string {
  if (source === "ocr") return t("search.text.ocr");
  if (source === "scene") return t("search.text.scene");
  if (source === "object") return t("search.text.object");
  return t("search.text.transcript");
}

// Full-text search of transcripts, on-screen text and objects; a hit opens the media at its time.
import { Alert, Anchor, Badge, Button, Group, Stack, Text, TextInput } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useApi } from "../../api";
import { duration } from "./MediaTile";

export function TranscriptSearch() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const [draft, setDraft] = useState("");
  const [q, setQ] = useState("");
  const hits = $api.useQuery("get", "/api/v1/search/text", { params: { query: { q, limit: 20 } } }, { enabled: q !== "" });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setQ(draft.trim());
  };
  const results = hits.data?.results ?? [];
  return (
    <Stack gap="xs">
      <form onSubmit={submit} role="search" aria-label={t("library.text.label")}>
        <Group gap="sm" align="flex-end" wrap="wrap">
          <TextInput
            label={t("library.text.label")}
            description={t("library.text.hint")}
            value={draft}
            maxLength={500}
            onChange={(event) => setDraft(event.currentTarget.value)}
            style={{ flex: "1 1 14rem" }}
          />
          <Button type="submit" variant="default" disabled={!draft.trim()} loading={hits.isFetching}>
            {t("library.text.submit")}
          </Button>
          {q ? (
            <Button variant="subtle" onClick={() => { setQ(""); setDraft(""); }}>
              {t("library.text.clear")}
            </Button>
          ) : null}
        </Group>
      </form>
      {hits.isError ? <Alert color="red">{t("library.text.failed")}</Alert> : null}
      {hits.data ? (
        <Stack gap={4} aria-live="polite">
          <Text size="sm">{results.length ? t("library.text.count", { count: results.length, q }) : t("library.text.none", { q })}</Text>
          <ol className="lib-hits" data-testid="library-text-hits" style={{ margin: 0, paddingLeft: "1.2rem" }}>
            {results.map((hit) => (
              <li key={hit.segment_id}>
                <Anchor component={Link} to={`/media/${hit.media_id}?t=${Math.max(0, Math.round(hit.start * 10) / 10)}`} size="sm">
                  {hit.media_name ?? hit.media_id} · {duration(hit.start)}
                </Anchor>{" "}
                <Badge size="xs" variant="light">
                  {t(`library.text.source.${hit.source}`, { defaultValue: hit.source })}
                </Badge>{" "}
                <Text span size="sm">
                  {hit.text}
                </Text>
              </li>
            ))}
          </ol>
        </Stack>
      ) : null}
    </Stack>
  );
}

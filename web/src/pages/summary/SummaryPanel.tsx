// A generated summary (person dossier or media): each sentence with the fact ids it cites, how it
// was made (language model + prompt version, or extractive without a model) and "Regenerate".
// A cited fact shown on the same page (an element with id `fact-<id>`) is one click away.
import { Alert, Anchor, Badge, Button, Group, Loader, Paper, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { type components, useApi } from "../../api";
import { errorMessage } from "../dashboard/MyJobs";
import "./summary.css";

export type Summary = components["schemas"]["SummaryOut"];
export type SummarySubject = { kind: "person"; id: string } | { kind: "media"; id: string };

export const factAnchor = (factId: string) => `fact-${factId}`;

/** Scrolls to a cited fact on this page and marks it; false when the page does not show it. */
export function showFact(factId: string): boolean {
  const target = document.getElementById(factAnchor(factId));
  if (!target) return false;
  for (const old of document.querySelectorAll(".fact-highlight")) old.classList.remove("fact-highlight");
  target.classList.add("fact-highlight");
  target.scrollIntoView?.({ block: "center", behavior: "smooth" });
  target.focus({ preventScroll: true });
  return true;
}

function useSummary(subject: SummarySubject) {
  const { $api } = useApi();
  const person = $api.useQuery(
    "get",
    "/api/v1/persons/{person_id}/summary",
    { params: { path: { person_id: subject.id } } },
    { enabled: subject.kind === "person" },
  );
  const media = $api.useQuery(
    "get",
    "/api/v1/media/{media_id}/summary",
    { params: { path: { media_id: subject.id } } },
    { enabled: subject.kind === "media" },
  );
  return subject.kind === "person" ? person : media;
}

export function MethodLabel({ summary }: { summary: Summary }) {
  const { t } = useTranslation();
  const llm = summary.method === "llm";
  return (
    <Text size="xs" c="dimmed" data-testid="summary-method" title={summary.label}>
      {llm
        ? t("summary.llm", { model: summary.model ?? "?", prompt: summary.prompt_version ?? "?" })
        : t("summary.extractive")}
    </Text>
  );
}

function Citation({ factId, linked }: { factId: string; linked: boolean }) {
  const { t } = useTranslation();
  if (!linked) {
    return (
      <Badge component="span" variant="light" color="gray" size="sm" tt="none" mr={4}>
        {factId}
      </Badge>
    );
  }
  return (
    <Anchor
      href={`#${factAnchor(factId)}`}
      size="xs"
      className="summary-cite"
      aria-label={t("summary.cite", { id: factId })}
      onClick={(event) => {
        if (showFact(factId)) event.preventDefault();
      }}
    >
      {factId}
    </Anchor>
  );
}

/** The sentence without its bracketed ids ("[F2, F5]"): the page shows them as links instead. */
export function withoutIds(text: string): string {
  return text
    .replace(/\s*\[\s*[A-Z]\d+(?:\s*,\s*[A-Z]\d+)*\s*\]/g, "")
    .replace(/\s+([.,;:!?])/g, "$1")
    .trim();
}

export function SummaryBody({ summary, linkFacts }: { summary: Summary; linkFacts: boolean }) {
  const { t } = useTranslation();
  if (summary.sentences.length === 0) return <Text size="sm">{t("summary.empty")}</Text>;
  return (
    <Stack gap={6}>
      {summary.sentences.map((sentence, i) => (
        <Text size="sm" key={`${i}-${sentence.text}`} data-testid="summary-sentence">
          {withoutIds(sentence.text)}{" "}
          <span aria-label={t("summary.cites")} role="group">
            {sentence.cites.map((id) => (
              <Citation key={id} factId={id} linked={linkFacts} />
            ))}
          </span>
        </Text>
      ))}
    </Stack>
  );
}

export function SummaryPanel({ subject, linkFacts = false }: { subject: SummarySubject; linkFacts?: boolean }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const titleId = useId();
  const query = useSummary(subject);
  const [busy, setBusy] = useState(false);
  const [refreshError, setRefreshError] = useState<string | null>(null);

  async function regenerate() {
    setBusy(true);
    setRefreshError(null);
    const answer =
      subject.kind === "person"
        ? await client.GET("/api/v1/persons/{person_id}/summary", {
            params: { path: { person_id: subject.id }, query: { refresh: true } },
          })
        : await client.GET("/api/v1/media/{media_id}/summary", {
            params: { path: { media_id: subject.id }, query: { refresh: true } },
          });
    setBusy(false);
    const status: number = answer.response.status;
    if (!answer.data) {
      setRefreshError(errorMessage(answer.error ?? `HTTP ${status}`));
      return;
    }
    const path = subject.kind === "person" ? "/api/v1/persons/{person_id}/summary" : "/api/v1/media/{media_id}/summary";
    const key = subject.kind === "person" ? { person_id: subject.id } : { media_id: subject.id };
    queryClient.setQueryData(["get", path, { params: { path: key } }], answer.data);
  }

  const failure = refreshError ?? (query.isError ? errorMessage(query.error) : null);
  return (
    <Paper withBorder p="sm" radius="md" component="section" aria-labelledby={titleId} data-testid="summary">
      <Stack gap="xs">
        <Group justify="space-between" gap="xs">
          <Title order={3} size="h5" id={titleId}>
            {subject.kind === "person" ? t("summary.personTitle") : t("summary.mediaTitle")}
          </Title>
          <Button size="compact-sm" variant="default" loading={busy} disabled={query.isPending} onClick={() => void regenerate()}>
            {t("summary.regenerate")}
          </Button>
        </Group>
        {query.isPending ? <Loader size="xs" aria-label={t("summary.loading")} /> : null}
        {failure ? (
          <Alert color="red" role="alert">
            {t("summary.failed", { reason: failure })}
          </Alert>
        ) : null}
        {query.data ? (
          <>
            <SummaryBody summary={query.data} linkFacts={linkFacts} />
            <MethodLabel summary={query.data} />
          </>
        ) : null}
      </Stack>
    </Paper>
  );
}

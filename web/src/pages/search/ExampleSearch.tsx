// Search by example (a face photo or a voice clip): pick or drop a file, see what matched.
import { Alert, Stack, Text } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { caseProblem, useApi, useCurrentCase } from "../../api";
import { CaseRequired } from "../cases/CaseRequired";
import { ExampleResults } from "./ExampleResults";
import { QueryDrop } from "./QueryDrop";
import { apiMessage, type ExampleSearchResult } from "./types";

export type ExampleKind = "face" | "voice";

/** A refused search: the message, and the API's error body (to tell case problems apart). */
class Refused extends Error {
  constructor(
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export function ExampleSearch({ kind }: { kind: ExampleKind }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const [file, setFile] = useState<File | null>(null);
  const preview = useMemo(() => (file && kind === "face" ? URL.createObjectURL(file) : null), [file, kind]);
  useEffect(() => () => (preview ? URL.revokeObjectURL(preview) : undefined), [preview]);

  const search = useMutation({
    mutationFn: async (query: File): Promise<ExampleSearchResult> => {
      const path = kind === "face" ? "/api/v1/search/face" : "/api/v1/search/voice";
      const { data, error, response } = await client.POST(path, {
        body: { file: query as unknown as string, k: 10 },
        bodySerializer: () => {
          const form = new FormData();
          form.append("file", query, query.name);
          form.append("k", "10");
          return form;
        },
      });
      if (!data) throw new Refused(apiMessage(error, response.status), error);
      return data as unknown as ExampleSearchResult;
    },
  });

  // a search refused for want of a (usable) case runs again once another case is chosen
  const [currentCase] = useCurrentCase();
  const refusedBody = search.error instanceof Refused ? search.error.body : null;
  const caseRefused = caseProblem(refusedBody) !== null;
  const { mutate } = search;
  useEffect(() => {
    if (file && caseRefused && currentCase) mutate(file);
    // only when the case changes: a new file is searched by choose()
  }, [currentCase]);

  function choose(next: File) {
    setFile(next);
    search.mutate(next);
  }

  const found = search.data;
  return (
    <Stack gap="md">
      <QueryDrop
        accept={kind === "face" ? "image/*" : "audio/*,video/*"}
        label={t(`search.${kind}.choose`)}
        hint={t(`search.${kind}.hint`)}
        busy={search.isPending}
        file={file}
        onFile={choose}
      />
      {caseRefused ? <CaseRequired error={refusedBody} purpose={kind === "face" ? "faceSearch" : "voiceSearch"} /> : null}
      {search.isError && !caseRefused ? (
        <Alert color="red" role="alert" title={t("search.example.rejected")}>
          {search.error.message}
        </Alert>
      ) : null}
      {found && !search.isPending ? (
        <Stack gap="sm" aria-live="polite">
          <Text size="sm">
            {kind === "face"
              ? t("search.face.found", { count: found.query.faces ?? found.results.length })
              : t("search.voice.found", { count: found.query.speakers ?? found.results.length })}
          </Text>
          {found.results.map((hit, index) => (
            <ExampleResults key={index} kind={kind} hit={hit} index={index} preview={preview} />
          ))}
        </Stack>
      ) : null}
    </Stack>
  );
}

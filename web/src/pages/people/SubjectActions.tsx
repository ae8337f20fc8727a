// Data-subject rights on the person page (Admins, persons:erase): export everything held on the
// person (the subject access ZIP) and erase them. Both run under the current case.
import { Alert, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { caseProblem, useApi, useCurrentCase } from "../../api";
import { CasePrompt } from "../cases/CaseRequired";
import { apiMessage } from "../search/types";
import { EraseDialog } from "./EraseDialog";
import { downloadName, type Receipt, saveBlob } from "./erasure";
import type { Person } from "./types";

export function SubjectActions({
  person,
  label,
  onErased,
}: {
  person: Person;
  label: string;
  onErased: (receipt: Receipt) => void;
}) {
  const { t } = useTranslation();
  const { client } = useApi();
  const [currentCase] = useCurrentCase();
  const [erasing, setErasing] = useState(false);
  // an export refused for lack of a (usable) case runs once a case is chosen in the prompt
  const [waitingForCase, setWaitingForCase] = useState(false);
  const exporter = useMutation({
    mutationFn: async () => {
      const { data, error, response } = await client.GET("/api/v1/persons/{person_id}/subject-export", {
        params: { path: { person_id: person.id } },
        parseAs: "blob",
      });
      if (!response.ok || !data) throw error ?? new Error(`HTTP ${response.status}`);
      const fallback = `subject-${person.id.replace(/[^\w-]/g, "_")}.zip`;
      saveBlob(data, downloadName(response.headers.get("Content-Disposition"), fallback));
      return data.size;
    },
    onError: (error) => setWaitingForCase(caseProblem(error) !== null),
  });
  const exportCase = exporter.isError ? caseProblem(exporter.error) : null;
  const { mutate } = exporter;

  useEffect(() => {
    if (waitingForCase && currentCase !== null) {
      setWaitingForCase(false);
      mutate();
    }
  }, [currentCase]); // only a change of case retries

  function startExport() {
    if (currentCase === null) setWaitingForCase(true);
    else exporter.mutate();
  }

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="subject-rights-title">
      <Stack gap="sm">
        <Title order={3} size="h5" id="subject-rights-title">
          {t("erase.rightsTitle")}
        </Title>
        <Text size="sm" c="dimmed">
          {t("erase.rightsIntro")}
        </Text>
        <Group gap="sm">
          <Button variant="default" onClick={startExport} loading={exporter.isPending}>
            {t("erase.export")}
          </Button>
          <Button color="red" variant="outline" onClick={() => setErasing(true)}>
            {t("erase.open")}
          </Button>
        </Group>
        {waitingForCase && currentCase === null ? <CasePrompt problem="missing" purpose="subjectExport" /> : null}
        {exportCase && !exporter.isPending ? (
          <CasePrompt problem={exportCase} purpose="subjectExport" message={apiMessage(exporter.error)} />
        ) : null}
        {exporter.isError && !exportCase ? (
          <Alert color="red" role="alert">
            {t("erase.exportFailed", { reason: apiMessage(exporter.error) })}
          </Alert>
        ) : null}
        {exporter.isSuccess ? (
          <Text size="sm" role="status">
            {t("erase.exported", { size: Math.max(1, Math.round(exporter.data / 1024)) })}
          </Text>
        ) : null}
      </Stack>
      {erasing ? (
        <EraseDialog person={person} label={label} opened={erasing} onClose={() => setErasing(false)} onErased={onErased} />
      ) : null}
    </Paper>
  );
}

// "Erase this person…": names what goes, asks for the reason (kept in the audit trail, so not
// their name), offers to delete the media they appear in too, and runs under the current case.
import { Alert, Button, Checkbox, Group, List, Modal, Stack, Text, Textarea } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { caseProblem, useApi, useCurrentCase } from "../../api";
import { CasePrompt } from "../cases/CaseRequired";
import { apiMessage } from "../search/types";
import { isReceipt, MAX_REASON, type Receipt, reasonProblem } from "./erasure";
import type { Person } from "./types";

export function EraseDialog({
  person,
  label,
  opened,
  onClose,
  onErased,
}: {
  person: Person;
  label: string;
  opened: boolean;
  onClose: () => void;
  onErased: (receipt: Receipt) => void;
}) {
  const { t } = useTranslation();
  const { client } = useApi();
  const [currentCase] = useCurrentCase();
  const [reason, setReason] = useState("");
  const [withMedia, setWithMedia] = useState(false);
  const [touched, setTouched] = useState(false);
  const crops = person.observations.filter((o) => o.crop).length;
  const erase = useMutation({
    mutationFn: async () => {
      const { data, error, response } = await client.POST("/api/v1/persons/{person_id}/erase", {
        params: { path: { person_id: person.id } },
        body: { reason: reason.trim(), with_media: withMedia },
      });
      if (!response.ok) throw error ?? new Error(`HTTP ${response.status}`);
      if (!isReceipt(data)) throw new Error(t("erase.badAnswer"));
      return data;
    },
    onSuccess: (receipt) => onErased(receipt),
  });
  const problem = reasonProblem(reason, [person.name]);
  const caseIssue = erase.isError ? caseProblem(erase.error) : null;
  const noCase = currentCase === null;

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      closeButtonProps={{ "aria-label": t("erase.close") }}
      title={t("erase.title", { name: label })}
      size="lg"
      centered
    >
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setTouched(true);
          if (problem === null && !noCase) erase.mutate();
        }}
      >
        <Stack gap="sm">
          <Text size="sm">{t("erase.removes")}</Text>
          <List size="sm" spacing={2} data-testid="erase-scope">
            <List.Item>{t("erase.scope.person", { name: label, count: person.merged_ids.length })}</List.Item>
            <List.Item>{t("erase.scope.observations", { faces: person.faces, voices: person.voices })}</List.Item>
            <List.Item>{t("erase.scope.said")}</List.Item>
            <List.Item>{t("erase.scope.crops", { count: crops })}</List.Item>
            <List.Item>{t("erase.scope.links")}</List.Item>
          </List>
          <Text size="sm">
            {withMedia ? t("erase.mediaGo", { count: person.media }) : t("erase.mediaStay", { count: person.media })}
          </Text>
          <Textarea
            label={t("erase.reason")}
            description={t("erase.reasonHint")}
            required
            rows={3}
            maxLength={MAX_REASON}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            onBlur={() => setTouched(true)}
            error={touched && problem ? t(`erase.reasonProblems.${problem}`) : undefined}
            styles={{ error: { color: "var(--mantine-color-red-9)" }, input: { color: "var(--mantine-color-text)" } }}
          />
          <Checkbox
            label={t("erase.withMedia", { count: person.media })}
            description={t("erase.withMediaHint")}
            checked={withMedia}
            onChange={(e) => setWithMedia(e.currentTarget.checked)}
          />
          {noCase ? <CasePrompt problem="missing" purpose="erase" /> : null}
          {caseIssue && !noCase ? <CasePrompt problem={caseIssue} purpose="erase" message={apiMessage(erase.error)} /> : null}
          {erase.isError && !caseIssue ? (
            <Alert color="red" role="alert" title={t("erase.failed")} styles={{ title: { color: "var(--mantine-color-text)" } }}>
              {apiMessage(erase.error)}
            </Alert>
          ) : null}
          <Text size="sm" fw={600}>
            {t("erase.final")}
          </Text>
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={onClose} disabled={erase.isPending}>
              {t("erase.cancel")}
            </Button>
            <Button type="submit" color="red" loading={erase.isPending} disabled={noCase || (touched && problem !== null)}>
              {t("erase.confirm")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

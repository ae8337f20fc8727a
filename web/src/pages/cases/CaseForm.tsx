// Open a case (cases:manage): title, legal basis, justification, optional members. The new case
// becomes the current one.
import { Alert, Button, Group, NativeSelect, Paper, Stack, Textarea, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useCurrentCase } from "../../api";
import { apiMessage } from "../search/types";
import { CASES_KEY, type CaseOut, isLegalBasis, LEGAL_BASES, type LegalBasis, MIN_JUSTIFICATION } from "./types";

export function CaseForm({ onCreated }: { onCreated?: (created: CaseOut) => void }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [, setCurrent] = useCurrentCase();
  const [title, setTitle] = useState("");
  const [basis, setBasis] = useState<LegalBasis>("legitimate_interests");
  const [justification, setJustification] = useState("");
  const [members, setMembers] = useState("");
  const create = useMutation({
    mutationFn: async () => {
      const { data, error, response } = await client.POST("/api/v1/cases", {
        body: {
          title: title.trim(),
          legal_basis: basis,
          justification: justification.trim(),
          members: members
            .split(/[\s,;]+/)
            .map((m) => m.trim())
            .filter(Boolean),
        },
      });
      if (!data) throw new Error(apiMessage(error, response.status));
      return data;
    },
    onSuccess: async (created) => {
      setTitle("");
      setJustification("");
      setMembers("");
      setCurrent(created.id);
      onCreated?.(created);
      await queryClient.invalidateQueries({ queryKey: CASES_KEY });
    },
  });
  const tooShort = justification.trim().length < MIN_JUSTIFICATION;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (title.trim() && !tooShort) create.mutate();
  }

  return (
    <Paper withBorder p="md" radius="md">
      <form onSubmit={submit} aria-labelledby="new-case-title">
        <Stack gap="sm">
          <Title order={3} size="h5" id="new-case-title">
            {t("cases.form.title")}
          </Title>
          <TextInput
            label={t("cases.form.name")}
            name="case-title"
            required
            autoComplete="off"
            maxLength={256}
            value={title}
            onChange={(event) => setTitle(event.currentTarget.value)}
          />
          <NativeSelect
            label={t("cases.form.basis")}
            name="case-basis"
            value={basis}
            data={LEGAL_BASES.map((b) => ({ value: b, label: t(`cases.bases.${b}`) }))}
            onChange={(event) => {
              const value = event.currentTarget.value;
              if (isLegalBasis(value)) setBasis(value);
            }}
          />
          <Textarea
            label={t("cases.form.justification")}
            description={t("cases.form.justificationHint", { count: MIN_JUSTIFICATION })}
            name="case-justification"
            required
            autosize
            minRows={3}
            maxLength={10_000}
            value={justification}
            onChange={(event) => setJustification(event.currentTarget.value)}
          />
          <TextInput
            label={t("cases.form.members")}
            description={t("cases.form.membersHint")}
            name="case-members"
            autoComplete="off"
            value={members}
            onChange={(event) => setMembers(event.currentTarget.value)}
          />
          <Group>
            <Button type="submit" loading={create.isPending} disabled={!title.trim() || tooShort}>
              {t("cases.form.submit")}
            </Button>
          </Group>
          {create.isError ? (
            <Alert color="red" role="alert" title={t("cases.failed")}>
              {create.error.message}
            </Alert>
          ) : null}
        </Stack>
      </form>
    </Paper>
  );
}

// Confirm or dismiss one finding with a note: optional to confirm, required to dismiss (audited).
import { Alert, Button, Group, Modal, Stack, Textarea } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { type Decision, noteMissing } from "./types";

export interface DecisionDialogProps {
  decision: Decision | null;
  label: string;
  busy: boolean;
  error: string | null;
  onClose: () => void;
  onSubmit: (decision: Decision, note: string) => void;
}

export function DecisionDialog({ decision, label, busy, error, onClose, onSubmit }: DecisionDialogProps) {
  const { t } = useTranslation();
  const [note, setNote] = useState("");
  const [tried, setTried] = useState(false);
  const missing = decision !== null && noteMissing(decision, note);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setTried(true);
    if (decision && !missing) onSubmit(decision, note.trim());
  }

  function close() {
    setNote("");
    setTried(false);
    onClose();
  }

  const dismissing = decision === "dismiss";
  return (
    <Modal
      opened={decision !== null}
      onClose={close}
      closeButtonProps={{ "aria-label": t("reviewQueue.dialog.close") }}
      title={t(dismissing ? "reviewQueue.dialog.dismissTitle" : "reviewQueue.dialog.confirmTitle", { label })}
    >
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <Textarea
            label={t("reviewQueue.dialog.note")}
            description={dismissing ? t("reviewQueue.dialog.dismissHint", { label }) : t("reviewQueue.dialog.confirmHint")}
            required={dismissing}
            value={note}
            maxLength={2000}
            rows={3}
            error={tried && missing ? t("reviewQueue.dialog.needNote") : undefined}
            styles={{ error: { color: "var(--mantine-color-red-9)" } }}
            onChange={(event) => setNote(event.currentTarget.value)}
            data-autofocus
          />
          {error ? (
            <Alert color="red" role="alert">
              {t("reviewQueue.decideFailed", { reason: error })}
            </Alert>
          ) : null}
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={close}>
              {t("reviewQueue.dialog.cancel")}
            </Button>
            <Button type="submit" color={dismissing ? "gray.8" : "red.9"} loading={busy}>
              {dismissing ? t("reviewQueue.dismiss") : t("reviewQueue.confirm")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

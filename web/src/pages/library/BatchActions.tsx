// What to do with the selected media: analyse again, re-run one analyzer, delete (confirmed).
// Each media is its own request (four at a time); the outcome names how many worked.
import { Alert, Button, Group, Modal, Select, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../../api";
import { LIBRARY_KEY } from "./useMediaPages";

type Outcome = { action: "analyse" | "rerun" | "delete"; ok: number; failed: number; reason?: string };

async function eachLimited(ids: string[], run: (id: string) => Promise<string | null>) {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      const failure = await run(id).catch((error: unknown) => String(error));
      if (failure) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, ids.length) }, worker));
  return failures;
}

function reason(error: unknown): string {
  const body = error as { error?: { message?: string } } | undefined;
  return body?.error?.message ?? "error";
}

export function BatchActions({ ids, onDeleted, onSelectAll, onClear, loadedCount }: {
  ids: string[];
  onDeleted: (ids: string[]) => void;
  onSelectAll: () => void;
  onClear: () => void;
  loadedCount: number;
}) {
  const { t } = useTranslation();
  const { client, $api } = useApi();
  const { can } = useMe();
  const queryClient = useQueryClient();
  const [analyzer, setAnalyzer] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [confirming, confirm] = useDisclosure(false);
  const canJobs = can("jobs:create");
  const canDelete = can("media:upload");
  const analyzers = $api.useQuery("get", "/api/v1/analyzers", {}, { enabled: canJobs });
  const names = (analyzers.data ?? [])
    .filter((a) => !a.disabled)
    .map((a) => String(a.name));

  async function run(action: Outcome["action"]) {
    setBusy(true);
    setOutcome(null);
    const chosen = [...ids];
    const done: string[] = [];
    const failures = await eachLimited(chosen, async (id) => {
      if (action === "delete") {
        const { error } = await client.DELETE("/api/v1/media/{media_id}", { params: { path: { media_id: id } } });
        if (!error) done.push(id);
        return error ? reason(error) : null;
      }
      const body = action === "rerun" && analyzer ? { media_id: id, analyzers: [analyzer] } : { media_id: id };
      const { error } = await client.POST("/api/v1/jobs", { body: body as { media_id: string; priority: number } });
      return error ? reason(error) : null;
    });
    setOutcome({ action, ok: chosen.length - failures.length, failed: failures.length, reason: failures[0] });
    if (action === "delete") onDeleted(done);
    await queryClient.invalidateQueries({ queryKey: [LIBRARY_KEY] });
    setBusy(false);
    confirm.close();
  }

  return (
    <>
      <Group gap="xs" wrap="wrap" align="flex-end" role="toolbar" aria-label={t("library.batch.label")}>
        <Text size="sm" fw={500} aria-live="polite" data-testid="selected-count">
          {t("library.batch.selected", { count: ids.length })}
        </Text>
        <Button size="xs" variant="default" onClick={onSelectAll} disabled={loadedCount === 0}>
          {t("library.batch.selectAll", { count: loadedCount })}
        </Button>
        <Button size="xs" variant="default" onClick={onClear} disabled={ids.length === 0}>
          {t("library.batch.clear")}
        </Button>
        {canJobs ? (
          <>
            <Button size="xs" disabled={!ids.length} loading={busy} onClick={() => void run("analyse")}>
              {t("library.batch.analyse")}
            </Button>
            <Select
              size="xs"
              aria-label={t("library.batch.analyzer")}
              placeholder={t("library.batch.analyzer")}
              data={names}
              value={analyzer}
              onChange={setAnalyzer}
              w={160}
            />
            <Button size="xs" variant="light" disabled={!ids.length || !analyzer} loading={busy} onClick={() => void run("rerun")}>
              {t("library.batch.rerun")}
            </Button>
          </>
        ) : null}
        {canDelete ? (
          <Button size="xs" color="red" variant="light" disabled={!ids.length} onClick={confirm.open}>
            {t("library.batch.delete")}
          </Button>
        ) : null}
      </Group>
      {outcome ? (
        <Alert
          color={outcome.failed ? "orange" : "green"}
          role="status"
          withCloseButton
          closeButtonLabel={t("library.batch.dismiss")}
          onClose={() => setOutcome(null)}
        >
          {t(`library.batch.done.${outcome.action}`, { count: outcome.ok })}
          {outcome.failed ? ` ${t("library.batch.failed", { count: outcome.failed, reason: outcome.reason })}` : ""}
        </Alert>
      ) : null}
      <Modal
        opened={confirming}
        onClose={confirm.close}
        title={t("library.delete.title", { count: ids.length })}
        closeButtonProps={{ "aria-label": t("library.delete.cancel") }}
        centered
      >
        <Text size="sm">{t("library.delete.body", { count: ids.length })}</Text>
        <Group justify="flex-end" mt="md">
          <Button variant="default" onClick={confirm.close} disabled={busy}>
            {t("library.delete.cancel")}
          </Button>
          <Button color="red" loading={busy} onClick={() => void run("delete")} data-testid="confirm-delete">
            {t("library.delete.confirm", { count: ids.length })}
          </Button>
        </Group>
      </Modal>
    </>
  );
}

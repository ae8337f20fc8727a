// Confirm (it joins the queue) or reject a job waiting for its cost to be accepted. The API
// allows its creator or an Administrator, and refuses with 402 when a hard budget would break.
import { Alert, Button, Group, Stack } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { errorMessage } from "../dashboard/MyJobs";
import type { Job } from "./money";

export function ConfirmJob({ jobId, onDecided }: { jobId: string; onDecided?: (job: Job) => void }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<"confirm" | "reject" | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function decide(decision: "confirm" | "reject") {
    setBusy(decision);
    setError(null);
    const init = { params: { path: { job_id: jobId } } };
    const answer =
      decision === "confirm"
        ? await client.POST("/api/v1/jobs/{job_id}/confirm", init)
        : await client.POST("/api/v1/jobs/{job_id}/reject", init);
    setBusy(null);
    const status: number = answer.response.status;
    if (!answer.data) {
      setError(errorMessage(answer.error ?? `HTTP ${status}`));
      return;
    }
    onDecided?.(answer.data);
    await queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/jobs"] });
  }

  return (
    <Stack gap="xs">
      <Group gap="sm">
        <Button size="compact-md" loading={busy === "confirm"} disabled={busy !== null} onClick={() => void decide("confirm")}>
          {t("cost.confirm")}
        </Button>
        <Button
          size="compact-md"
          variant="default"
          loading={busy === "reject"}
          disabled={busy !== null}
          onClick={() => void decide("reject")}
        >
          {t("cost.reject")}
        </Button>
      </Group>
      {error ? (
        <Alert color="red" role="alert">
          {t("cost.refused", { reason: error })}
        </Alert>
      ) : null}
    </Stack>
  );
}

// One started job, followed live over SSE (the cookie session), with a link to its media.
import { Badge, Group, Progress, Stack, Text } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { followJob, type StreamState, useApi } from "../../api";
import { isJobState, percent, stateColor } from "../dashboard/format";
import { JobCost } from "../jobs/JobCost";
import { awaitingConfirmation } from "../jobs/money";

export interface StartedJob {
  jobId: string;
  mediaId: string;
  name: string;
  /** As POST /jobs answered: "awaiting_confirmation" when its cost must be accepted first. */
  state?: string;
}

const TERMINAL = new Set(["succeeded", "partial", "failed", "cancelled"]);

export function JobProgress({ job }: { job: StartedJob }) {
  const { t } = useTranslation();
  const { session, $api } = useApi();
  const [state, setState] = useState(job.state ?? "queued");
  const detail = $api.useQuery(
    "get",
    "/api/v1/jobs/{job_id}",
    { params: { path: { job_id: job.jobId } } },
    { enabled: awaitingConfirmation(state) || TERMINAL.has(state) },
  );
  const { refetch } = detail;
  useEffect(() => {
    // the cost so far is only final once the job ended
    if (TERMINAL.has(state)) void refetch();
  }, [state, refetch]);
  const [progress, setProgress] = useState(0);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [lost, setLost] = useState(false);

  useEffect(
    () =>
      followJob(session, job.jobId, {
        onProgress: (event) => {
          setState(event.state);
          setProgress(event.progress);
          setMessage(event.message);
          setError(event.error);
        },
        onEnd: (event) => setState(event.state),
        onConnection: setStream,
        onError: () => setLost(true),
      }),
    [session, job.jobId],
  );

  const label = isJobState(state) ? t(`upload.jobState.${state}`) : state;
  return (
    <Stack gap={4} data-testid="job-progress" data-state={state}>
      <Group justify="space-between" gap="xs" wrap="wrap">
        <Link to={`/media/${encodeURIComponent(job.mediaId)}`}>{t("upload.openMedia", { name: job.name })}</Link>
        <Group gap="xs">
          <Text size="xs" c="dimmed">
            {t("upload.job", { id: job.jobId })}
          </Text>
          <Badge color={stateColor(state)} variant="filled" aria-live="polite">
            {label}
          </Badge>
        </Group>
      </Group>
      {detail.data && (awaitingConfirmation(state) || TERMINAL.has(state)) ? (
        <JobCost job={{ ...detail.data, state }} onDecided={(decided) => setState(decided.state)} />
      ) : null}
      <Progress value={percent(progress)} aria-label={t("upload.progressLabel", { name: job.name })} />
      {message ? (
        <Text size="xs" c="dimmed">
          {message}
        </Text>
      ) : null}
      {error ? (
        <Text size="xs" c="red.9">
          {error}
        </Text>
      ) : null}
      {stream === "reconnecting" ? (
        <Text size="xs" fw={600} role="status">
          {t("upload.reconnecting")}
        </Text>
      ) : null}
      {lost ? (
        <Text size="xs" c="red.9" role="status">
          {t("upload.streamLost")}
        </Text>
      ) : null}
    </Stack>
  );
}

// Upload: choose or drop files and folders, upload each with its own progress and outcome, preview
// the analysis plan, start it, and follow every job live.
import { Alert, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../api";
import { errorMessage } from "./dashboard/MyJobs";
import { AnalysisOptions } from "./upload/AnalysisOptions";
import type { Picked } from "./upload/collectFiles";
import { DropZone } from "./upload/DropZone";
import { FileTable, type Item, type ItemState } from "./upload/FileTable";
import { JobProgress, type StartedJob } from "./upload/JobProgress";
import { MY_QUOTA_KEY, MyUsage } from "./upload/MyUsage";
import { PlanPreview } from "./upload/PlanPreview";
import { sendFile } from "./upload/sendFile";
import { PageFrame } from "./PagePlaceholder";

type Phase = "choose" | "uploading" | "uploaded" | "starting" | "started";
let nextId = 0;

export default function UploadPage() {
  const { t } = useTranslation();
  const { session, client } = useApi();
  const { can } = useMe();
  const queryClient = useQueryClient();
  const [items, setItems] = useState<Item[]>([]);
  const [selected, setSelected] = useState<string[] | null>(null);
  const [priority, setPriority] = useState(0);
  const [phase, setPhase] = useState<Phase>("choose");
  const [started, setStarted] = useState<StartedJob[]>([]);
  const [startError, setStartError] = useState<string | null>(null);
  const onSelected = useCallback((names: string[]) => setSelected(names), []);

  const add = (picked: Picked[]) =>
    setItems((current) => [
      ...current,
      ...picked.map((p) => ({ id: `f${(nextId += 1)}`, file: p.file, path: p.path, state: { kind: "queued" } as const })),
    ]);
  const update = (id: string, state: ItemState) =>
    setItems((current) => current.map((item) => (item.id === id ? { ...item, state } : item)));

  async function upload() {
    setPhase("uploading");
    for (const item of items.filter((i) => i.state.kind === "queued")) {
      update(item.id, { kind: "uploading", progress: 0 });
      const outcome = await sendFile(session, item.file, item.file.name, (progress) =>
        update(item.id, { kind: "uploading", progress }),
      );
      update(item.id, { kind: "done", ...outcome });
    }
    setPhase("uploaded");
    void queryClient.invalidateQueries({ queryKey: MY_QUOTA_KEY });
  }

  const done = items.flatMap((item) =>
    item.state.kind === "done" && (item.state.status === "created" || item.state.status === "duplicate")
      ? [{ mediaId: item.state.mediaId, name: item.file.name }]
      : [],
  );
  const count = (status: string) => items.filter((i) => i.state.kind === "done" && i.state.status === status).length;

  async function start() {
    setPhase("starting");
    setStartError(null);
    const jobs: StartedJob[] = [];
    for (const media of done) {
      const { data, error } = await client.POST("/api/v1/jobs", {
        body: { media_id: media.mediaId, analyzers: selected ?? undefined, priority },
      });
      if (data) jobs.push({ jobId: data.id, mediaId: media.mediaId, name: media.name, state: data.state });
      else setStartError(t("upload.startFailed", { reason: errorMessage(error) }));
    }
    setStarted(jobs);
    setPhase("started");
    void queryClient.invalidateQueries({ queryKey: MY_QUOTA_KEY });
  }

  function reset() {
    setItems([]);
    setStarted([]);
    setStartError(null);
    setPhase("choose");
  }

  const queued = items.filter((i) => i.state.kind === "queued").length;
  return (
    <PageFrame title={t("pages.upload.title")} intro={t("pages.upload.intro")}>
      <DropZone onPick={add} disabled={phase !== "choose"} />
      <AnalysisOptions selected={selected} onSelected={onSelected} priority={priority} onPriority={setPriority} />
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="upload-files-title">
        <Stack gap="sm">
          <Title order={3} size="h4" id="upload-files-title">
            {t("upload.files")}
          </Title>
          <FileTable
            items={items}
            onRemove={phase === "choose" ? (id) => setItems((c) => c.filter((i) => i.id !== id)) : undefined}
          />
          {phase !== "choose" && phase !== "uploading" ? (
            <Text size="sm" fw={600} role="status" data-testid="upload-summary">
              {t("upload.summary", { created: count("created"), duplicates: count("duplicate"), rejected: count("rejected") + count("failed") })}
            </Text>
          ) : null}
          <Group gap="sm">
            {phase === "choose" || phase === "uploading" ? (
              <Button disabled={queued === 0 || phase === "uploading"} loading={phase === "uploading"} onClick={() => void upload()}>
                {t("upload.upload", { count: queued })}
              </Button>
            ) : null}
            {items.length > 0 && phase !== "uploading" && phase !== "starting" ? (
              <Button variant="default" onClick={reset}>
                {t("upload.clear")}
              </Button>
            ) : null}
          </Group>
        </Stack>
      </Paper>
      {done.length > 0 && phase !== "choose" && phase !== "uploading" ? (
        <PlanPreview mediaIds={done.map((d) => d.mediaId)} analyzers={selected ?? []} />
      ) : null}
      {done.length > 0 && (phase === "uploaded" || phase === "starting") && can("jobs:create") ? (
        <Group>
          <Button loading={phase === "starting"} onClick={() => void start()}>
            {t("upload.start", { count: done.length })}
          </Button>
        </Group>
      ) : null}
      {startError ? <Alert color="red" title={startError} /> : null}
      {started.length > 0 ? (
        <Paper withBorder p="md" radius="md" component="section" aria-labelledby="upload-jobs-title">
          <Stack gap="md">
            <Title order={3} size="h4" id="upload-jobs-title">
              {t("upload.started")}
            </Title>
            {started.map((job) => (
              <JobProgress key={job.jobId} job={job} />
            ))}
          </Stack>
        </Paper>
      ) : null}
      <MyUsage />
    </PageFrame>
  );
}

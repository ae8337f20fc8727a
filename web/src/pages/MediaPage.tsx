// One media: the player with face boxes, the insight timeline and the transcript following
// playback, notes a reader must see, result versions to review, and exports.
// /media/:id?t=12.5 opens at 12.5 s.
import { Alert, Grid, Group, Loader, Paper, Text, Title } from "@mantine/core";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { useParams, useSearchParams } from "react-router";
import { useApi, useMe } from "../api";
import { ExportMenu } from "./media/ExportMenu";
import { MediaViewer } from "./media/MediaViewer";
import { buildLanes, clock, faceFrames, timelineEnd } from "./media/model";
import { ReviewPanel } from "./media/ReviewPanel";
import { TimelineLanes } from "./media/TimelineLanes";
import { TranscriptPanel } from "./media/TranscriptPanel";
import { usePlayer } from "./media/usePlayer";
import { PageFrame } from "./PagePlaceholder";
import { SummaryPanel } from "./summary/SummaryPanel";
import { MediaJobs } from "./jobs/MediaJobs";
import "./media/media.css";

export default function MediaPage() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const [search] = useSearchParams();
  const start = Math.max(0, Number(search.get("t")) || 0);
  const { $api } = useApi();
  const { can } = useMe();
  const path = { params: { path: { media_id: id } } };
  const timeline = $api.useQuery("get", "/api/v1/media/{media_id}/timeline", path);
  const results = $api.useQuery("get", "/api/v1/media/{media_id}/results", path);
  const player = usePlayer(start);
  const lanes = useMemo(() => (timeline.data ? buildLanes(timeline.data) : []), [timeline.data]);
  const frames = useMemo(() => faceFrames(results.data), [results.data]);

  if (timeline.isPending) {
    return (
      <PageFrame title={t("media.title")}>
        <Loader size="sm" aria-label={t("media.loading")} />
      </PageFrame>
    );
  }
  if (timeline.isError || !timeline.data) {
    return (
      <PageFrame title={t("media.title")}>
        <Alert color="red" role="alert">
          {t("media.notFound")}
        </Alert>
      </PageFrame>
    );
  }
  const data = timeline.data;
  const media = data.media as { name?: string; kind?: string; duration_s?: number; width?: number; height?: number };
  const name = media.name ?? id;
  const kind = media.kind ?? "video";
  const transcript = data.tracks.transcript ?? [];
  const end = timelineEnd(data, lanes);
  const facts = [
    t(`media.kinds.${kind === "audio" || kind === "image" ? kind : "video"}`),
    media.duration_s ? clock(media.duration_s) : null,
    media.width && media.height ? `${media.width} × ${media.height}` : null,
  ].filter(Boolean);

  return (
    <PageFrame title={name}>
      <Group justify="space-between" wrap="wrap" mt={-8}>
        <Text c="dimmed" size="sm">
          {facts.join(" · ")}
        </Text>
        <ExportMenu mediaId={id} />
      </Group>
      {(data.notes ?? []).length > 0 ? (
        <Alert color="orange" variant="filled" title={t("media.notes")} role="note">
          <ul className="media-notes">
            {(data.notes ?? []).map((note) => (
              <li key={note}>{note}</li>
            ))}
          </ul>
        </Alert>
      ) : null}
      <ReviewPanel
        mediaId={id}
        pending={data.pending_review ?? []}
        results={results.data ?? []}
        canReview={can("results:review")}
      />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: kind === "image" ? 12 : 7 }}>
          <MediaViewer
            mediaId={id}
            kind={kind}
            name={name}
            width={media.width}
            height={media.height}
            frames={frames}
            hasTranscript={transcript.length > 0}
            player={player}
          />
          {kind !== "image" ? (
            <Text size="sm" c="dimmed" mt={4} aria-live="off" data-testid="clock">
              {clock(player.time)} / {clock(end)}
            </Text>
          ) : null}
        </Grid.Col>
        {kind !== "image" ? (
          <Grid.Col span={{ base: 12, md: 5 }}>
            <Paper withBorder p="sm" component="section" aria-labelledby="transcript-title">
              <Title order={3} size="h5" id="transcript-title" mb="xs">
                {t("media.transcript.title")}
              </Title>
              <TranscriptPanel segments={transcript} time={player.time} onSeek={player.seek} />
            </Paper>
          </Grid.Col>
        ) : null}
      </Grid>
      <Paper withBorder p="sm">
        <TimelineLanes mediaId={id} lanes={lanes} end={end} time={player.time} onSeek={player.seek} />
      </Paper>
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 7 }}>
          <SummaryPanel subject={{ kind: "media", id }} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <MediaJobs mediaId={id} />
        </Grid.Col>
      </Grid>
    </PageFrame>
  );
}

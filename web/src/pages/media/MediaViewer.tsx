// The media itself (<video>, <audio> or <img>, streamed with the session cookie) with the face
// boxes of the latest analysed keyframe drawn over it.
import { Box as MBox, Switch } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { type Box, boxesAt } from "./model";
import type { Player } from "./usePlayer";

export interface MediaViewerProps {
  mediaId: string;
  kind: string;
  name: string;
  width?: number;
  height?: number;
  frames: { t: number; boxes: Box[] }[];
  hasTranscript: boolean;
  player: Player;
}

export function MediaViewer({ mediaId, kind, name, width, height, frames, hasTranscript, player }: MediaViewerProps) {
  const { t } = useTranslation();
  const [showBoxes, setShowBoxes] = useState(true);
  const src = `/api/v1/media/${encodeURIComponent(mediaId)}/content`;
  const boxes = showBoxes ? boxesAt(frames, kind === "image" ? 0 : player.time) : [];
  const ratio = width && height ? width / height : 16 / 9;
  const overlay = (
    <div className="media-boxes" aria-hidden="true">
      {boxes.map((b, i) => (
        <div
          key={i}
          className="media-box"
          style={{
            left: `${(b.box[0] ?? 0) * 100}%`,
            top: `${(b.box[1] ?? 0) * 100}%`,
            width: `${(b.box[2] ?? 0) * 100}%`,
            height: `${(b.box[3] ?? 0) * 100}%`,
          }}
        />
      ))}
    </div>
  );
  if (kind === "audio") {
    return (
      <audio ref={player.ref} src={src} controls preload="metadata" style={{ width: "100%" }} aria-label={name}>
        {hasTranscript ? <track kind="captions" src={`/api/v1/media/${mediaId}/transcript?format=vtt`} /> : null}
      </audio>
    );
  }
  return (
    <div>
      <MBox
        className="media-stage"
        style={{ maxWidth: `min(100%, calc(60vh * ${ratio}))`, aspectRatio: String(ratio) }}
      >
        {kind === "video" ? (
          <video
            ref={player.ref}
            src={src}
            controls
            preload="metadata"
            playsInline
            aria-label={name}
            data-testid="media-element"
          >
            {hasTranscript ? (
              <track kind="captions" label={t("media.captions")} src={`/api/v1/media/${mediaId}/transcript?format=vtt`} />
            ) : null}
          </video>
        ) : (
          <img src={src} alt={name} />
        )}
        {overlay}
      </MBox>
      {frames.length > 0 ? (
        <Switch
          mt="xs"
          size="sm"
          checked={showBoxes}
          onChange={(e) => setShowBoxes(e.currentTarget.checked)}
          label={t("media.showBoxes")}
        />
      ) : null}
    </div>
  );
}

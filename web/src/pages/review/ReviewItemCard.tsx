// One finding in the review queue: evidence frame, label, where it is (opens the media at that
// moment), calibrated confidence, its state and, for roles that decide, Confirm / Dismiss.
import { Anchor, Badge, Button, Group, Paper, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { formatTime } from "../dashboard/format";
import { clock, mediaLink, percent } from "../search/types";
import { EvidenceImage } from "./EvidenceImage";
import { type Decision, isReviewState, type ReviewItem, reviewColor } from "./types";

export interface ReviewItemCardProps {
  item: ReviewItem;
  canDecide: boolean;
  onDecide: (item: ReviewItem, decision: Decision) => void;
}

export function ReviewItemCard({ item, canDecide, onDecide }: ReviewItemCardProps) {
  const { t, i18n } = useTranslation();
  const kind = item.kind === "restraint" ? t("reviewQueue.kinds.restraint") : item.kind;
  const state = isReviewState(item.state) ? t(`reviewQueue.states.${item.state}`) : item.state;
  const where = t("reviewQueue.at", { media: item.media_id, time: clock(item.t) });
  return (
    <Paper withBorder p="sm" radius="md" data-testid="review-item" data-state={item.state}>
      <Group align="flex-start" gap="md" wrap="wrap">
        <EvidenceImage
          itemId={item.id}
          hasEvidence={Boolean(item.evidence)}
          alt={t("reviewQueue.evidence", { label: item.label, media: item.media_id, time: clock(item.t) })}
        />
        <Stack gap={6} style={{ flex: "1 1 16rem", minWidth: 0 }}>
          <Group gap="xs" wrap="wrap">
            <Text fw={700} size="lg">
              {item.label}
            </Text>
            <Badge variant="light" color="gray">
              {kind}
            </Badge>
            <Badge variant="filled" color={reviewColor(item.state)}>
              {state}
            </Badge>
          </Group>
          <Anchor component={Link} to={mediaLink(item.media_id, item.t)} size="sm" style={{ overflowWrap: "anywhere" }}>
            {where}
          </Anchor>
          <Text size="sm">
            {t("reviewQueue.confidence", { value: percent(item.confidence) })}
            {item.raw_confidence != null ? (
              <Text span size="sm" c="dimmed">
                {" "}
                ({t("reviewQueue.rawConfidence", { value: percent(item.raw_confidence) })})
              </Text>
            ) : null}
          </Text>
          {item.decided_by ? (
            <Text size="sm" c="dimmed">
              {t("reviewQueue.decided", { state, who: item.decided_by, when: formatTime(item.decided_at, i18n.language) })}
            </Text>
          ) : null}
          {item.note ? <Text size="sm">{t("reviewQueue.note", { note: item.note })}</Text> : null}
          {canDecide && item.state === "unreviewed" ? (
            <Group gap="sm" mt={4}>
              <Button size="compact-md" color="red.9" onClick={() => onDecide(item, "confirm")}>
                {t("reviewQueue.confirm")}
              </Button>
              <Button size="compact-md" variant="default" onClick={() => onDecide(item, "dismiss")}>
                {t("reviewQueue.dismiss")}
              </Button>
            </Group>
          ) : null}
        </Stack>
      </Group>
    </Paper>
  );
}

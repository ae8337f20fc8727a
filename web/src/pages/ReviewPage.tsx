// The review queue: findings (restraints) that count only once a person confirmed them.
// Analysts and Administrators decide (review:decide); Auditors read; the API checks each request.
import { Alert, Loader, SegmentedControl, Stack, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useApi, useMe } from "../api";
import { errorMessage } from "./dashboard/MyJobs";
import { PageFrame } from "./PagePlaceholder";
import { DecisionDialog } from "./review/DecisionDialog";
import { ReviewItemCard } from "./review/ReviewItemCard";
import { type Decision, isReviewState, type ReviewFilter, type ReviewItem, reviewOrder } from "./review/types";
import { LIST } from "./search/types";

const FILTERS: readonly ReviewFilter[] = ["unreviewed", "confirmed", "dismissed", "all"];

export default function ReviewPage() {
  const { t } = useTranslation();
  const { $api, client } = useApi();
  const { can } = useMe();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const wanted = params.get("state");
  const filter: ReviewFilter = wanted === "all" || isReviewState(wanted) ? wanted : "unreviewed";
  const list = $api.useQuery("get", "/api/v1/review", {
    params: { query: { state: filter === "all" ? undefined : filter, limit: 200 } },
  });
  const [open, setOpen] = useState<{ item: ReviewItem; decision: Decision } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canDecide = can("review:decide");

  async function decide(decision: Decision, note: string) {
    if (!open) return;
    setBusy(true);
    setError(null);
    const path = { params: { path: { item_id: open.item.id } }, body: { note: note || null } };
    const answer =
      decision === "confirm"
        ? await client.POST("/api/v1/review/{item_id}/confirm", path)
        : await client.POST("/api/v1/review/{item_id}/dismiss", path);
    setBusy(false);
    const status: number = answer.response.status;
    if (!answer.data) {
      setError(errorMessage(answer.error ?? `HTTP ${status}`));
      return;
    }
    setOpen(null);
    await queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/review"] });
  }

  const items = reviewOrder(list.data ?? []);
  return (
    <PageFrame title={t("pages.review.title")} intro={t("reviewQueue.intro")}>
      <SegmentedControl
        aria-label={t("reviewQueue.stateFilter")}
        value={filter}
        onChange={(value) => setParams(value === "unreviewed" ? {} : { state: value }, { replace: true })}
        data={FILTERS.map((value) => ({ value, label: t(`reviewQueue.states.${value}`) }))}
        style={{ alignSelf: "flex-start" }}
      />
      {!canDecide ? (
        <Text size="sm" c="dimmed">
          {t("reviewQueue.readOnly")}
        </Text>
      ) : null}
      {list.isPending ? <Loader size="sm" aria-label={t("reviewQueue.loading")} /> : null}
      {list.isError ? (
        <Alert color="red" role="alert">
          {t("reviewQueue.failed", { reason: errorMessage(list.error) })}
        </Alert>
      ) : null}
      {list.data ? (
        <Stack gap="sm" aria-live="polite">
          {items.length === 0 ? <Text size="sm">{t("reviewQueue.empty")}</Text> : null}
          <ul style={LIST} aria-label={t("reviewQueue.list")}>
            {items.map((item) => (
              <li key={item.id}>
                <ReviewItemCard
                  item={item}
                  canDecide={canDecide}
                  onDecide={(chosen, decision) => {
                    setError(null);
                    setOpen({ item: chosen, decision });
                  }}
                />
              </li>
            ))}
          </ul>
        </Stack>
      ) : null}
      <DecisionDialog
        key={open ? `${open.item.id}-${open.decision}` : "closed"}
        decision={open?.decision ?? null}
        label={open?.item.label ?? ""}
        busy={busy}
        error={error}
        onClose={() => setOpen(null)}
        onSubmit={(decision, note) => void decide(decision, note)}
      />
    </PageFrame>
  );
}

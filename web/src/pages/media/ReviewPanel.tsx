// Result versions waiting for review (e.g. a new analyzer version): what each holds next to the
// accepted one, and Accept for those who may review (the API decides; the button only hides).
import { Alert, Button, Group, Stack, Table, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { type ResultOut, resultCounts, type Timeline } from "./model";

export interface ReviewPanelProps {
  mediaId: string;
  pending: NonNullable<Timeline["pending_review"]>;
  results: ResultOut[];
  canReview: boolean;
}

export function ReviewPanel({ mediaId, pending, results, canReview }: ReviewPanelProps) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (pending.length === 0) return null;

  const accept = async (resultId: string) => {
    setBusy(resultId);
    setError(null);
    const { error: failed } = await client.POST("/api/v1/results/{result_id}/accept", {
      params: { path: { result_id: resultId } },
    });
    setBusy(null);
    if (failed) {
      setError(t("media.review.failed"));
      return;
    }
    await queryClient.invalidateQueries({
      predicate: (q) => JSON.stringify(q.queryKey).includes(mediaId),
    });
  };

  return (
    <Alert color="yellow" variant="light" title={t("media.review.title", { count: pending.length })}>
      <Stack gap="sm">
        {pending.map((p) => {
          const candidate = results.find((r) => r.id === p.result_id);
          const current = results.find((r) => r.analyzer === p.analyzer && r.accepted);
          const now = resultCounts(current);
          const next = resultCounts(candidate);
          const keys = [...new Set([...Object.keys(now), ...Object.keys(next)])].sort();
          return (
            <div key={p.result_id}>
              <Group justify="space-between" wrap="wrap">
                <Text fw={600}>
                  {t("media.review.version", { analyzer: p.analyzer, version: p.version })}
                </Text>
                {canReview ? (
                  <Button size="xs" loading={busy === p.result_id} onClick={() => void accept(p.result_id)}>
                    {t("media.review.accept")}
                  </Button>
                ) : null}
              </Group>
              {keys.length > 0 ? (
                <Table.ScrollContainer minWidth={260}>
                  <Table withTableBorder striped fz="sm" captionSide="top">
                    <Table.Caption>{t("media.review.compare", { analyzer: p.analyzer })}</Table.Caption>
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th scope="col">{t("media.review.what")}</Table.Th>
                        <Table.Th scope="col">{t("media.review.accepted")}</Table.Th>
                        <Table.Th scope="col">{t("media.review.pending")}</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {keys.map((k) => (
                        <Table.Tr key={k}>
                          <Table.Th scope="row">{k}</Table.Th>
                          <Table.Td>{now[k] ?? "–"}</Table.Td>
                          <Table.Td>{next[k] ?? "–"}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              ) : null}
            </div>
          );
        })}
        {error ? (
          <Text c="red.8" role="alert">
            {error}
          </Text>
        ) : null}
      </Stack>
    </Alert>
  );
}

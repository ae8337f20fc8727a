// The evidence frame of a review item, fetched with the session's credentials (cookie or bearer).
import { Box, Image, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";

const WIDTH = 200;

export function EvidenceImage({ itemId, hasEvidence, alt }: { itemId: string; hasEvidence: boolean; alt: string }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const blob = useQuery({
    queryKey: ["review-evidence", itemId],
    enabled: hasEvidence,
    staleTime: Infinity,
    queryFn: async () => {
      const { data, response } = await client.GET("/api/v1/review/{item_id}/evidence", {
        params: { path: { item_id: itemId } },
        parseAs: "blob",
      });
      if (!response.ok || !data) throw new Error(`HTTP ${response.status}`);
      return data as Blob;
    },
  });
  const url = useMemo(() => (blob.data ? URL.createObjectURL(blob.data) : null), [blob.data]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  if (url) return <Image src={url} alt={alt} w={WIDTH} fit="contain" radius="sm" style={{ flex: "none" }} />;
  return (
    <Box w={WIDTH} h={WIDTH * 0.6} bg="gray.2" style={{ borderRadius: 4, flex: "none", display: "grid", placeItems: "center" }}>
      {!hasEvidence || blob.isError ? (
        <Text size="xs" c="gray.8">
          {t("reviewQueue.noEvidence")}
        </Text>
      ) : null}
    </Box>
  );
}

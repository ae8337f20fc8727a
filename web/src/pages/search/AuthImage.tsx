// An artifact image (face crop) fetched with the session's credentials, so it works with
// bearer tokens as well as with the session cookie.
import { Box, Image } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo } from "react";
import { useApi } from "../../api";

export function AuthImage({ mediaId, sha256, alt, size = 64 }: { mediaId: string; sha256: string; alt: string; size?: number }) {
  const { client } = useApi();
  const blob = useQuery({
    queryKey: ["artifact", mediaId, sha256],
    staleTime: Infinity,
    queryFn: async () => {
      const { data, response } = await client.GET("/api/v1/media/{media_id}/artifacts/{sha256}", {
        params: { path: { media_id: mediaId, sha256 } },
        parseAs: "blob",
      });
      if (!data) throw new Error(`HTTP ${response.status}`);
      return data as Blob;
    },
  });
  const url = useMemo(() => (blob.data ? URL.createObjectURL(blob.data) : null), [blob.data]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  if (!url) return <Box w={size} h={size} bg="gray.2" style={{ borderRadius: 4, flex: "none" }} aria-hidden />;
  return <Image src={url} alt={alt} w={size} h={size} fit="cover" radius="sm" style={{ flex: "none" }} />;
}

/** One face of a local photo, cut out with CSS from its box ([x, y, w, h] as fractions). */
export function FaceCrop({ src, box, label, size = 72 }: { src: string; box: number[]; label: string; size?: number }) {
  const [x = 0, y = 0, w = 1, h = 1] = box;
  const pos = (start: number, span: number) => (span >= 1 ? 0 : (start / (1 - span)) * 100);
  return (
    <Box
      role="img"
      aria-label={label}
      w={size}
      h={size}
      style={{
        flex: "none",
        borderRadius: 4,
        backgroundImage: `url("${src}")`,
        backgroundSize: `${100 / Math.max(w, 0.01)}% ${100 / Math.max(h, 0.01)}%`,
        backgroundPosition: `${pos(x, w)}% ${pos(y, h)}%`,
      }}
    />
  );
}

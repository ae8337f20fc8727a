// Who appears with this person: the person in the centre, the others around, edge width by the
// number of shared media. Nodes are links: click, or Tab to one and press Enter.
import { Stack, Text, Title } from "@mantine/core";
import { type KeyboardEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { useApi } from "../../api";
import { personLabel, seconds } from "./types";

const W = 420;
const H = 320;
const MAX_NODES = 12;
const short = (s: string) => (s.length > 16 ? `${s.slice(0, 15)}…` : s);

export function CoAppearanceGraph({ personId, name }: { personId: string; name: string | null }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const navigate = useNavigate();
  const [focused, setFocused] = useState<string | null>(null);
  const query = $api.useQuery("get", "/api/v1/persons/{person_id}/co-appearances", {
    params: { path: { person_id: personId } },
  });
  const items = (query.data?.items ?? []).slice(0, MAX_NODES);
  const most = Math.max(1, ...items.map((x) => x.media));
  const cx = W / 2;
  const cy = H / 2;
  const r = Math.min(W, H) / 2 - 40;
  const nodes = items.map((x, i) => {
    const a = (2 * Math.PI * i) / items.length - Math.PI / 2;
    return { ...x, x: cx + r * Math.cos(a), y: cy + r * Math.sin(a), label: personLabel(t, x.person_id, x.name) };
  });
  const go = (id: string) => navigate(`/people/${id}`);
  const onKey = (e: KeyboardEvent, id: string) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      go(id);
    }
  };

  return (
    <Stack gap="xs" component="section" aria-labelledby="graph-title">
      <Title order={3} id="graph-title">
        {t("people.graph")}
      </Title>
      {query.isSuccess && !items.length ? <Text size="sm">{t("people.graphEmpty")}</Text> : null}
      {items.length ? (
        <svg
          viewBox={`0 0 ${W} ${H}`}
          role="group"
          aria-label={t("people.graphLabel", { name: personLabel(t, personId, name) })}
          style={{ width: "100%", maxWidth: W, height: "auto" }}
        >
          {nodes.map((n) => (
            <line
              key={`e-${n.person_id}`}
              x1={cx}
              y1={cy}
              x2={n.x}
              y2={n.y}
              stroke="var(--mantine-color-gray-6)"
              strokeWidth={1 + (7 * n.media) / most}
              strokeLinecap="round"
            />
          ))}
          <circle cx={cx} cy={cy} r={26} fill="var(--mantine-color-blue-7)" />
          <text x={cx} y={cy + 42} textAnchor="middle" fontSize={13} fontWeight={700} fill="currentColor">
            {short(personLabel(t, personId, name))}
          </text>
          {nodes.map((n) => {
            const desc = t("people.graphNode", {
              name: n.label,
              media: n.media,
              time: seconds(n.together_s),
              talks: n.conversations,
            });
            return (
              <g
                key={n.person_id}
                role="link"
                tabIndex={0}
                aria-label={desc}
                style={{ cursor: "pointer", outline: "none" }}
                onClick={() => go(n.person_id)}
                onKeyDown={(e) => onKey(e, n.person_id)}
                onFocus={() => setFocused(n.person_id)}
                onBlur={() => setFocused(null)}
              >
                <title>{desc}</title>
                <circle
                  cx={n.x}
                  cy={n.y}
                  r={18}
                  fill="var(--mantine-color-teal-7)"
                  stroke={focused === n.person_id ? "var(--mantine-color-orange-6)" : "var(--mantine-color-body)"}
                  strokeWidth={focused === n.person_id ? 5 : 2}
                />
                <text x={n.x} y={n.y + 32} textAnchor="middle" fontSize={12} fill="currentColor">
                  {short(n.label)}
                </text>
              </g>
            );
          })}
        </svg>
      ) : null}
    </Stack>
  );
}

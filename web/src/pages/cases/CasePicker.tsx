// The current case: a select of the caller's open cases and "New case…" (opens the cases page).
// Used in the shell header and inside the "needs a case" prompt of guarded pages.
import { NativeSelect } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { useApi, useCurrentCase, useMe } from "../../api";

const NEW_CASE = "__new__";

/** `header`: compact, in the shell's header; `nav`: in the phone navigation; `inline`: labelled. */
export function CasePicker({ place = "inline" }: { place?: "header" | "nav" | "inline" }) {
  const compact = place === "header";
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const navigate = useNavigate();
  const [current, setCurrent] = useCurrentCase();
  const readable = can("cases:read");
  const open = $api.useQuery(
    "get",
    "/api/v1/cases",
    { params: { query: { state: "open" } } },
    { enabled: readable, staleTime: 30_000 },
  );
  const cases = open.data ?? [];
  const known = current === null || open.isPending || cases.some((c) => c.id === current);
  // the current case is no longer open (closed, or not ours): name it, so the choice is visible
  const gone = $api.useQuery(
    "get",
    "/api/v1/cases/{case_id}",
    { params: { path: { case_id: current ?? "" } } },
    { enabled: readable && !known, staleTime: 30_000, retry: false },
  );
  if (!readable) return null;
  const goneLabel = gone.data?.title ?? current ?? "";
  const data = [
    { value: "", label: t("cases.picker.none") },
    ...(known || !current ? [] : [{ value: current, label: t("cases.picker.unavailable", { title: goneLabel }) }]),
    ...cases.map((c) => ({ value: c.id, label: c.title })),
    ...(can("cases:manage") ? [{ value: NEW_CASE, label: t("cases.picker.new") }] : []),
  ];
  return (
    <NativeSelect
      size="xs"
      aria-label={compact ? t("cases.picker.label") : undefined}
      label={compact ? undefined : t("cases.picker.label")}
      data-testid={`case-picker-${place}`}
      value={current ?? ""}
      data={data}
      maw={compact ? 170 : 320}
      onChange={(event) => {
        const value = event.currentTarget.value;
        if (value === NEW_CASE) void navigate("/cases?new=1");
        else setCurrent(value || null);
      }}
    />
  );
}

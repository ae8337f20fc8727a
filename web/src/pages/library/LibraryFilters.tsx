// Filters, sort, name search and the grid/list switch; every change goes to the address bar.
import { Button, Collapse, Group, SegmentedControl, Select, SimpleGrid, TextInput } from "@mantine/core";
import { useDebouncedCallback, useDisclosure } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../../api";
import { activeFilterCount, type Filters, JOB_STATES, KINDS, SORTS, type View } from "./filters";

const SORT_LABELS = {
  "-created_at": "library.sort.desc_created_at",
  created_at: "library.sort.created_at",
  name: "library.sort.name",
  "-name": "library.sort.desc_name",
  "-size": "library.sort.desc_size",
  size: "library.sort.size",
  "-duration": "library.sort.desc_duration",
  duration: "library.sort.duration",
  kind: "library.sort.kind",
} as const satisfies Record<(typeof SORTS)[number], string>;

interface Props {
  filters: Filters;
  view: View;
  onChange: (key: keyof Filters | "view", value: string) => void;
  onReset: () => void;
}

export function LibraryFilters({ filters, view, onChange, onReset }: Props) {
  const { t } = useTranslation();
  const [open, { toggle }] = useDisclosure(activeFilterCount(filters) > 0);
  const [name, setName] = useState(filters.q);
  const pushName = useDebouncedCallback((value: string) => onChange("q", value), 300);
  const tri = [
    { value: "any", label: t("library.filter.any") },
    { value: "yes", label: t("library.filter.yes") },
    { value: "no", label: t("library.filter.no") },
  ];
  const active = activeFilterCount(filters);
  return (
    <>
      <Group gap="sm" align="flex-end" wrap="wrap">
        <TextInput
          label={t("library.filter.name")}
          placeholder={t("library.filter.namePlaceholder")}
          value={name}
          type="search"
          onChange={(event) => {
            setName(event.currentTarget.value);
            pushName(event.currentTarget.value);
          }}
          style={{ flex: "1 1 12rem" }}
        />
        <Select
          label={t("library.sort.label")}
          data={SORTS.map((value) => ({ value, label: t(SORT_LABELS[value]) }))}
          value={filters.sort}
          allowDeselect={false}
          onChange={(value) => onChange("sort", value ?? "-created_at")}
          w={190}
        />
        <SegmentedControl
          aria-label={t("library.view.label")}
          value={view}
          onChange={(value) => onChange("view", value)}
          data={[
            { value: "grid", label: t("library.view.grid") },
            { value: "list", label: t("library.view.list") },
          ]}
        />
        <Button variant="default" onClick={toggle} aria-expanded={open} aria-controls="library-filters">
          {active ? t("library.filter.toggleActive", { count: active }) : t("library.filter.toggle")}
        </Button>
      </Group>
      <Collapse expanded={open} id="library-filters">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm" pt="xs">
          <Select
            label={t("library.filter.kind")}
            data={[{ value: "", label: t("library.filter.allKinds") }, ...KINDS.map((k) => ({ value: k, label: t(`library.kind.${k}`) }))]}
            value={filters.kind}
            allowDeselect={false}
            onChange={(value) => onChange("kind", value ?? "")}
          />
          <Select
            label={t("library.filter.state")}
            data={[{ value: "", label: t("library.filter.anyState") }, ...JOB_STATES.map((s) => ({ value: s, label: t(`library.state.${s}`) }))]}
            value={filters.state}
            allowDeselect={false}
            onChange={(value) => onChange("state", value ?? "")}
          />
          <TextInput label={t("library.filter.from")} type="date" value={filters.from} onChange={(e) => onChange("from", e.currentTarget.value)} />
          <TextInput label={t("library.filter.to")} type="date" value={filters.to} onChange={(e) => onChange("to", e.currentTarget.value)} />
          <Select label={t("library.filter.flagged")} data={tri} value={filters.flagged} allowDeselect={false} onChange={(v) => onChange("flagged", v ?? "any")} />
          <Select label={t("library.filter.faces")} data={tri} value={filters.faces} allowDeselect={false} onChange={(v) => onChange("faces", v ?? "any")} />
          <Select label={t("library.filter.speech")} data={tri} value={filters.speech} allowDeselect={false} onChange={(v) => onChange("speech", v ?? "any")} />
          <PersonFilter value={filters.person} onChange={(value) => onChange("person", value)} />
        </SimpleGrid>
        <Group justify="flex-end" pt="xs">
          <Button
            variant="subtle"
            size="xs"
            disabled={!active}
            onClick={() => {
              setName("");
              onReset();
            }}
          >
            {t("library.filter.reset")}
          </Button>
        </Group>
      </Collapse>
    </>
  );
}

function PersonFilter({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const allowed = can("persons:read");
  const persons = $api.useQuery("get", "/api/v1/persons", { params: { query: { limit: 500 } } }, { enabled: allowed });
  if (!allowed) return null;
  const options = (persons.data?.items ?? []).map((p) => ({
    value: p.id,
    label: p.name ?? t("library.filter.unnamed", { id: p.id.slice(-6) }),
  }));
  if (value && !options.some((o) => o.value === value)) options.unshift({ value, label: value });
  return (
    <Select
      label={t("library.filter.person")}
      placeholder={t("library.filter.anyPerson")}
      data={options}
      value={value || null}
      searchable
      clearable
      nothingFoundMessage={t("library.filter.noPerson")}
      onChange={(next) => onChange(next ?? "")}
    />
  );
}

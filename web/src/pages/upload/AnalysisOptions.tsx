// Analyzers (GET /api/v1/analyzers; the installation's defaults checked) and the job priority.
import { Alert, Checkbox, Group, NumberInput, Paper, Stack, Text, Title } from "@mantine/core";
import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";

export interface AnalyzerInfo {
  name: string;
  description: string;
  disabled: boolean;
  /** Why it does not run here ("forbidden by jurisdiction policy (EU)", "disabled by policy"). */
  reason: string | null;
  default: boolean;
}

const JURISDICTION = /^forbidden by jurisdiction policy(?: \((.*)\))?/;

/** The jurisdiction's name and the analyzers it forbids, or null when it forbids none. */
export function jurisdictionNote(analyzers: AnalyzerInfo[]): { jurisdiction: string; names: string[] } | null {
  const forbidden = analyzers.filter((a) => a.reason && JURISDICTION.test(a.reason));
  if (!forbidden.length) return null;
  const jurisdiction = JURISDICTION.exec(forbidden[0]?.reason ?? "")?.[1] ?? "";
  return { jurisdiction, names: forbidden.map((a) => a.name) };
}

function parse(raw: unknown): AnalyzerInfo[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const a = item as Record<string, unknown>;
    if (typeof a.name !== "string") return [];
    return [
      {
        name: a.name,
        description: typeof a.description === "string" ? a.description : "",
        disabled: a.disabled === true,
        reason: typeof a.disabled_reason === "string" ? a.disabled_reason : null,
        default: a.default === true,
      },
    ];
  });
}

export function AnalysisOptions({
  selected,
  onSelected,
  priority,
  onPriority,
}: {
  selected: string[] | null;
  onSelected: (names: string[]) => void;
  priority: number;
  onPriority: (value: number) => void;
}) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const query = $api.useQuery("get", "/api/v1/analyzers", {}, { staleTime: 60_000 });
  const analyzers = parse(query.data);
  const forbidden = jurisdictionNote(analyzers);

  useEffect(() => {
    // the first answer sets the defaults; later choices are the user's
    if (selected === null && query.data) onSelected(parse(query.data).filter((a) => a.default && !a.disabled).map((a) => a.name));
  }, [query.data, selected, onSelected]);

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="upload-options-title">
      <Stack gap="sm">
        <Title order={3} size="h4" id="upload-options-title">
          {t("upload.options")}
        </Title>
        {forbidden ? (
          <Alert color="gray" data-testid="jurisdiction-note">
            {t("upload.forbiddenNote", { jurisdiction: forbidden.jurisdiction, names: forbidden.names.join(", ") })}
          </Alert>
        ) : null}
        {query.isPending ? (
          <Text size="sm" c="dimmed">
            {t("upload.analyzersLoading")}
          </Text>
        ) : (
          <Checkbox.Group
            label={t("upload.analyzers")}
            description={t("upload.analyzersHint")}
            value={selected ?? []}
            onChange={onSelected}
          >
            <Group gap="md" mt="xs">
              {analyzers.map((a) => (
                <Checkbox
                  key={a.name}
                  value={a.name}
                  label={a.disabled ? `${a.name} (${a.reason ?? t("upload.disabled")})` : a.name}
                  title={a.description || undefined}
                  disabled={a.disabled}
                />
              ))}
            </Group>
          </Checkbox.Group>
        )}
        <NumberInput
          label={t("upload.priority")}
          description={t("upload.priorityHint")}
          value={priority}
          min={-1000}
          max={1000}
          step={10}
          maw={220}
          onChange={(value) => onPriority(typeof value === "number" ? value : Number(value) || 0)}
        />
      </Stack>
    </Paper>
  );
}

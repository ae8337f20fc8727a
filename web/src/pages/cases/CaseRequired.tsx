// What a guarded page shows instead of an error when its request needs a case: "Choose or open a
// case to …" with the picker (no case chosen), or the API's own words (closed case, not a member).
import { Alert, Anchor, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { type CaseProblem, caseProblem, useMe } from "../../api";
import { apiMessage } from "../search/types";
import { CasePicker } from "./CasePicker";

export type CasePurpose = "faceSearch" | "voiceSearch" | "dossier" | "seenBefore" | "export" | "erase" | "subjectExport";

/** The prompt for `error` when it is about the case; null for any other error. */
export function CaseRequired({ error, purpose }: { error: unknown; purpose: CasePurpose }) {
  const problem = caseProblem(error);
  return problem ? <CasePrompt problem={problem} purpose={purpose} message={apiMessage(error)} /> : null;
}

export function CasePrompt({
  problem,
  purpose,
  message,
}: {
  problem: CaseProblem;
  purpose: CasePurpose;
  message?: string;
}) {
  const { t } = useTranslation();
  const { can } = useMe();
  const action = t(`cases.purposes.${purpose}`);
  return (
    <Alert
      color={problem === "missing" ? "blue" : "red"}
      role={problem === "missing" ? "status" : "alert"}
      title={t("cases.prompt.title", { action })}
      data-testid="case-prompt"
    >
      <Stack gap="xs">
        <Text size="sm">{problem === "missing" ? t("cases.prompt.missing") : message}</Text>
        <CasePicker />
        {can("cases:manage") ? (
          <Anchor component={Link} to="/cases?new=1" size="sm">
            {t("cases.prompt.open")}
          </Anchor>
        ) : (
          <Text size="xs" c="dimmed">
            {t("cases.prompt.askToJoin")}
          </Text>
        )}
      </Stack>
    </Alert>
  );
}

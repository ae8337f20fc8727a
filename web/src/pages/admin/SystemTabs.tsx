// Models and workers from the dashboard summary (system:read), and the effective settings
// with secrets redacted (administrators).
import { Alert, Badge, Code, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { apiMessage } from "../search/types";
import { formatWhen, shortHash } from "./format";

function Failure({ error }: { error: unknown }) {
  return error ? (
    <Alert color="red" role="alert">
      {apiMessage(error)}
    </Alert>
  ) : null;
}

export function ModelsTab() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const dashboard = $api.useQuery("get", "/api/v1/dashboard");
  return (
    <>
      <Failure error={dashboard.error} />
      <Table.ScrollContainer minWidth={720}>
        <Table striped aria-label={t("admin.models.table")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("admin.models.analyzer")}</Table.Th>
              <Table.Th>{t("admin.models.model")}</Table.Th>
              <Table.Th>{t("admin.models.version")}</Table.Th>
              <Table.Th>{t("admin.models.licence")}</Table.Th>
              <Table.Th>{t("admin.models.sha256")}</Table.Th>
              <Table.Th>{t("admin.models.status")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(dashboard.data?.models ?? []).map((m) => (
              <Table.Tr key={`${m.analyzer}/${m.model}`}>
                <Table.Td>{m.analyzer}</Table.Td>
                <Table.Td style={{ overflowWrap: "anywhere" }}>{m.model}</Table.Td>
                <Table.Td>{m.version || "–"}</Table.Td>
                <Table.Td>{m.licence || "–"}</Table.Td>
                <Table.Td>
                  <Code title={m.sha256}>{shortHash(m.sha256)}</Code>
                </Table.Td>
                <Table.Td>
                  <Badge variant="dot" color={m.status === "ok" ? "green" : m.required ? "red" : "gray"}>
                    {m.status}
                  </Badge>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </>
  );
}

export function WorkersTab() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const dashboard = $api.useQuery("get", "/api/v1/dashboard");
  const workers = dashboard.data?.workers ?? [];
  return (
    <>
      <Failure error={dashboard.error} />
      {dashboard.data && workers.length === 0 ? <Text>{t("admin.workers.none")}</Text> : null}
      <Table.ScrollContainer minWidth={640}>
        <Table striped aria-label={t("admin.workers.table")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("admin.workers.id")}</Table.Th>
              <Table.Th>{t("admin.workers.state")}</Table.Th>
              <Table.Th>{t("admin.workers.job")}</Table.Th>
              <Table.Th>{t("admin.workers.heartbeat")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {workers.map((w) => (
              <Table.Tr key={w.id}>
                <Table.Td style={{ overflowWrap: "anywhere" }}>{`${w.hostname}:${w.pid}`}</Table.Td>
                <Table.Td>
                  <Badge variant="dot" color={w.alive ? "green" : "gray"}>
                    {w.alive ? w.state : t("admin.workers.gone")}
                  </Badge>
                </Table.Td>
                <Table.Td>{w.current_job ?? "–"}</Table.Td>
                <Table.Td>{formatWhen(w.heartbeat_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </>
  );
}

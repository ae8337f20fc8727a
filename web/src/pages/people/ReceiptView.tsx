// The erasure receipt after "Erase this person": its id, what each store lost, the vector index,
// and whether the stored receipt's signature verifies (GET /api/v1/receipts/{id}).
import { Alert, Anchor, Badge, Button, Code, Group, Loader, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useApi, useMe } from "../../api";
import { formatWhen } from "../admin/format";
import { apiMessage } from "../search/types";
import { isKnownStore, type Receipt, receiptBlob, receiptTotals, saveBlob } from "./erasure";

export const receiptUrl = (id: string) => `/api/v1/receipts/${encodeURIComponent(id)}`;

function Signature({ receiptId }: { receiptId: string }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const readable = can("audit:read");
  const check = $api.useQuery(
    "get",
    "/api/v1/receipts/{receipt_id}",
    { params: { path: { receipt_id: receiptId } } },
    { enabled: readable },
  );
  if (!readable) return <Text size="sm">{t("receipt.signatureUnchecked")}</Text>;
  if (check.isPending) return <Loader size="xs" aria-label={t("receipt.checking")} />;
  if (check.isError) return <Text size="sm" c="red.9">{apiMessage(check.error)}</Text>;
  return check.data.valid ? (
    <Badge color="green" variant="dot" data-testid="receipt-signature">
      {t("receipt.valid")}
    </Badge>
  ) : (
    <Badge color="red" variant="dot" data-testid="receipt-signature">
      {t("receipt.invalid", { problem: check.data.problem ?? "" })}
    </Badge>
  );
}

export function ReceiptView({ receipt }: { receipt: Receipt }) {
  const { t } = useTranslation();
  const { removed, failed } = receiptTotals(receipt);
  const index = receipt.index;
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="receipt-title" data-testid="erasure-receipt">
      <Stack gap="sm">
        <Title order={3} size="h4" id="receipt-title">
          {t("receipt.title")}
        </Title>
        <Text size="sm">{t("receipt.intro", { count: removed })}</Text>
        <Group gap="xs">
          <Text size="sm" fw={600}>
            {t("receipt.id")}
          </Text>
          <Code data-testid="receipt-id">{receipt.id}</Code>
        </Group>
        <Group gap="xs">
          <Text size="sm" fw={600}>
            {t("receipt.signature")}
          </Text>
          <Signature receiptId={receipt.id} />
        </Group>
        <Text size="sm" c="dimmed">
          {t("receipt.issued", { when: formatWhen(receipt.created_at), actor: receipt.actor })}
          {receipt.with_media ? ` · ${t("receipt.withMedia")}` : ""}
        </Text>
        {failed.length ? (
          <Alert color="orange" role="alert">
            {t("receipt.failedStores", { stores: failed.join(", ") })}
          </Alert>
        ) : null}
        <Table.ScrollContainer minWidth={360} maw={640}>
          <Table striped aria-label={t("receipt.stores")} data-testid="receipt-stores">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("receipt.store")}</Table.Th>
                <Table.Th ta="right">{t("receipt.count")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {receipt.stores.map((s) => (
                <Table.Tr key={s.store}>
                  <Table.Td>{isKnownStore(s.store) ? t(`receipt.storeNames.${s.store}`) : s.store}</Table.Td>
                  <Table.Td ta="right">{s.count}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        {index ? (
          <Text size="sm">
            {t("receipt.index", {
              backend: index.backend ?? "?",
              vectors: index.vectors_removed ?? 0,
              action: index.action ?? "?",
            })}{" "}
            {index.in_sync === false ? t("receipt.indexBehind") : ""}
          </Text>
        ) : null}
        <Text size="xs" c="dimmed">
          {t("receipt.privacy")}
        </Text>
        <Group gap="sm">
          <Button variant="default" onClick={() => saveBlob(receiptBlob(receipt), `${receipt.id}.json`)}>
            {t("receipt.download")}
          </Button>
          <Anchor href={receiptUrl(receipt.id)} target="_blank" rel="noopener" size="sm">
            {t("receipt.view")}
          </Anchor>
        </Group>
      </Stack>
    </Paper>
  );
}

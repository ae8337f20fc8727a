// Budgets (budgets:manage, Administrators): spending limits per user or project, with spend.
import { Alert, Button, Stack, Table, Text, VisuallyHidden } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";
import { formatMoney } from "../jobs/money";
import { apiMessage } from "../search/types";
import { BudgetForm } from "./BudgetForm";

export function BudgetsTab() {
  const { t, i18n } = useTranslation();
  const { $api, client } = useApi();
  const queryClient = useQueryClient();
  const budgets = $api.useQuery("get", "/api/v1/budgets");
  const remove = useMutation({
    mutationFn: async (budgetId: string) => {
      const { error, response } = await client.DELETE("/api/v1/budgets/{budget_id}", {
        params: { path: { budget_id: budgetId } },
      });
      if (!response.ok) throw new Error(apiMessage(error, response.status));
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/budgets"] }),
  });
  const rows = budgets.data ?? [];
  const label = (value: string, group: "scopes" | "periods") =>
    group === "scopes"
      ? value === "user" || value === "project"
        ? t(`budgets.scopes.${value}`)
        : value
      : value === "month" || value === "total"
        ? t(`budgets.periods.${value}`)
        : value;

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        {t("budgets.intro")}
      </Text>
      <BudgetForm />
      {budgets.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(budgets.error)}
        </Alert>
      ) : null}
      {remove.isError ? (
        <Alert color="red" role="alert">
          {t("budgets.failed", { reason: remove.error.message })}
        </Alert>
      ) : null}
      {budgets.data && rows.length === 0 ? <Text size="sm">{t("budgets.empty")}</Text> : null}
      {rows.length > 0 ? (
        <Table.ScrollContainer minWidth={720}>
          <Table striped aria-label={t("budgets.table")}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("budgets.scope")}</Table.Th>
                <Table.Th>{t("budgets.subject")}</Table.Th>
                <Table.Th>{t("budgets.period")}</Table.Th>
                <Table.Th>{t("budgets.soft")}</Table.Th>
                <Table.Th>{t("budgets.hard")}</Table.Th>
                <Table.Th>{t("budgets.spent")}</Table.Th>
                <Table.Th>
                  <VisuallyHidden>{t("budgets.delete")}</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((b) => {
                const money = (amount: number) => formatMoney(amount, b.currency, i18n.language);
                return (
                  <Table.Tr key={b.id} data-testid={`budget-${b.subject}`}>
                    <Table.Td>{label(b.scope, "scopes")}</Table.Td>
                    <Table.Td>{b.subject}</Table.Td>
                    <Table.Td>{label(b.period, "periods")}</Table.Td>
                    <Table.Td>{money(b.soft_limit)}</Table.Td>
                    <Table.Td>{money(b.hard_limit)}</Table.Td>
                    <Table.Td fw={b.spent >= b.soft_limit ? 700 : undefined}>{money(b.spent)}</Table.Td>
                    <Table.Td>
                      <Button
                        size="compact-sm"
                        variant="default"
                        aria-label={t("budgets.deleteLabel", { subject: b.subject })}
                        loading={remove.isPending && remove.variables === b.id}
                        onClick={() => remove.mutate(b.id)}
                      >
                        {t("budgets.delete")}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Stack>
  );
}

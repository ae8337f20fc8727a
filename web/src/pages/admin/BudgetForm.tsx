// Create or change a budget (PUT /api/v1/budgets upserts by scope + subject + period).
import { Alert, Button, Group, NativeSelect, NumberInput, Paper, Stack, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { type components, useApi } from "../../api";
import { apiMessage } from "../search/types";

type BudgetIn = components["schemas"]["BudgetIn"];
type Scope = BudgetIn["scope"];
type Period = NonNullable<BudgetIn["period"]>;
const SCOPES: readonly Scope[] = ["user", "project"];
const PERIODS: readonly Period[] = ["month", "total"];
const asNumber = (value: string | number) => (typeof value === "number" ? value : Number.parseFloat(value));

export function BudgetForm() {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [scope, setScope] = useState<Scope>("project");
  const [subject, setSubject] = useState("");
  const [period, setPeriod] = useState<Period>("month");
  const [soft, setSoft] = useState<string | number>("");
  const [hard, setHard] = useState<string | number>("");
  const [currency, setCurrency] = useState("");
  const save = useMutation({
    mutationFn: async (body: BudgetIn) => {
      const { data, error, response } = await client.PUT("/api/v1/budgets", { body });
      if (!data) throw new Error(apiMessage(error, response.status));
      return data;
    },
    onSuccess: () => {
      setSubject("");
      setSoft("");
      setHard("");
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/budgets"] }),
  });
  const softValue = asNumber(soft);
  const hardValue = asNumber(hard);
  const inverted = Number.isFinite(softValue) && Number.isFinite(hardValue) && softValue > hardValue;
  const ready = subject.trim() !== "" && Number.isFinite(softValue) && Number.isFinite(hardValue) && !inverted;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!ready) return;
    save.mutate({
      scope,
      subject: subject.trim(),
      period,
      soft_limit: softValue,
      hard_limit: hardValue,
      currency: currency.trim() || null,
    });
  }

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="budget-form-title">
      <form onSubmit={submit}>
        <Stack gap="sm">
          <Title order={3} size="h5" id="budget-form-title">
            {t("budgets.createTitle")}
          </Title>
          <Group gap="sm" align="flex-end" wrap="wrap">
            <NativeSelect
              label={t("budgets.scope")}
              value={scope}
              onChange={(e) => setScope(e.currentTarget.value === "user" ? "user" : "project")}
              data={SCOPES.map((value) => ({ value, label: t(`budgets.scopes.${value}`) }))}
            />
            <TextInput
              label={t("budgets.subject")}
              required
              maxLength={64}
              value={subject}
              onChange={(e) => setSubject(e.currentTarget.value)}
            />
            <NativeSelect
              label={t("budgets.period")}
              value={period}
              onChange={(e) => setPeriod(e.currentTarget.value === "total" ? "total" : "month")}
              data={PERIODS.map((value) => ({ value, label: t(`budgets.periods.${value}`) }))}
            />
            <NumberInput label={t("budgets.soft")} required min={0} decimalScale={2} value={soft} onChange={setSoft} w={130} />
            <NumberInput
              label={t("budgets.hard")}
              required
              min={0}
              decimalScale={2}
              value={hard}
              onChange={setHard}
              w={130}
              error={inverted ? t("budgets.softAboveHard") : undefined}
              styles={{ error: { color: "var(--mantine-color-red-9)" } }}
            />
            <TextInput
              label={t("budgets.currency")}
              maxLength={8}
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())}
              w={110}
            />
            <Button type="submit" disabled={!ready} loading={save.isPending}>
              {t("budgets.create")}
            </Button>
          </Group>
          {save.isError ? (
            <Alert color="red" role="alert">
              {t("budgets.failed", { reason: save.error.message })}
            </Alert>
          ) : null}
        </Stack>
      </form>
    </Paper>
  );
}

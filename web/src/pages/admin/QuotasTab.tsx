// Quotas (quotas:manage, Administrators): pick a user, see their limits and usage, change their
// overrides (empty = the server default, 0 = unlimited; PUT replaces them all, audited).
import { Alert, Button, Group, Loader, NativeSelect, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { isRole, useApi } from "../../api";
import { apiMessage } from "../search/types";
import { QuotaUsage, useQuotaFormat } from "./QuotaUsage";
import { draftErrors, MB, QUOTA_KEYS, type Quota, quotaBody, type QuotaDraft, quotaDraft } from "./quotas";

function QuotaForm({ quota }: { quota: Quota }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const format = useQuotaFormat(quota.currency);
  const [draft, setDraft] = useState<QuotaDraft>(() => quotaDraft(quota));
  const save = useMutation({
    mutationFn: async (body: ReturnType<typeof quotaBody>) => {
      const { data, error, response } = await client.PUT("/api/v1/users/{username}/quota", {
        params: { path: { username: quota.username } },
        body,
      });
      if (!data) throw new Error(apiMessage(error, response.status));
      return data;
    },
    onSuccess: (data) => {
      queryClient.setQueryData(["get", "/api/v1/users/{username}/quota", { params: { path: { username: quota.username } } }], data);
      setDraft(quotaDraft(data));
    },
  });
  const bad = draftErrors(draft);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (bad.length === 0) save.mutate(quotaBody(draft));
  }

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="quota-form-title">
      <form onSubmit={submit} aria-labelledby="quota-form-title">
        <Stack gap="sm">
          <Title order={3} size="h5" id="quota-form-title">
            {t("quotas.editTitle", { username: quota.username })}
          </Title>
          <Text size="xs" c="dimmed">
            {t("quotas.editHint")}
          </Text>
          <Group gap="sm" align="flex-start" wrap="wrap">
            {QUOTA_KEYS.map((key) => {
              // what "default" means for this user now: the limit in force unless overridden
              const fallback = quota.overridden.includes(key) ? null : quota.limits[key];
              return (
                <TextInput
                  key={key}
                  label={t(`quotas.fields.${key}`, { currency: quota.currency })}
                  inputMode="decimal"
                  w={190}
                  value={draft[key]}
                  placeholder={
                    fallback === null
                      ? t("quotas.placeholderDefault")
                      : t("quotas.placeholder", {
                          value: fallback <= 0 ? t("quotas.unlimited") : key === "bytes_per_day" ? `${fallback / MB}` : format(key, fallback),
                        })
                  }
                  onChange={(e) => {
                    const value = e.currentTarget.value;
                    setDraft((d) => ({ ...d, [key]: value }));
                  }}
                  error={bad.includes(key) ? t("quotas.invalid") : undefined}
                  styles={{ error: { color: "var(--mantine-color-red-9)" }, input: { color: "var(--mantine-color-text)" } }}
                />
              );
            })}
          </Group>
          <Group gap="sm">
            <Button type="submit" loading={save.isPending} disabled={bad.length > 0}>
              {t("quotas.save")}
            </Button>
            <Button variant="default" onClick={() => setDraft(Object.fromEntries(QUOTA_KEYS.map((k) => [k, ""])) as QuotaDraft)}>
              {t("quotas.allDefaults")}
            </Button>
          </Group>
          {save.isSuccess ? (
            <Text size="sm" role="status">
              {t("quotas.saved", { username: quota.username })}
            </Text>
          ) : null}
          {save.isError ? (
            <Alert color="red" role="alert">
              {t("quotas.failed", { reason: save.error.message })}
            </Alert>
          ) : null}
        </Stack>
      </form>
    </Paper>
  );
}

export function QuotasTab() {
  const { t } = useTranslation();
  const { $api } = useApi();
  const users = $api.useQuery("get", "/api/v1/users");
  const [picked, setPicked] = useState<string>("");
  const username = picked || users.data?.[0]?.username || "";
  const quota = $api.useQuery(
    "get",
    "/api/v1/users/{username}/quota",
    { params: { path: { username } } },
    { enabled: username !== "" },
  );

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        {t("quotas.intro")}
      </Text>
      {users.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(users.error)}
        </Alert>
      ) : null}
      <NativeSelect
        label={t("quotas.user")}
        value={username}
        onChange={(e) => setPicked(e.currentTarget.value)}
        data={(users.data ?? []).map((u) => ({ value: u.username, label: `${u.username} (${isRole(u.role) ? t(`roles.${u.role}`) : u.role})` }))}
        w={280}
      />
      {quota.isPending && username ? <Loader size="sm" aria-label={t("quotas.loading")} /> : null}
      {quota.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(quota.error)}
        </Alert>
      ) : null}
      {quota.data ? (
        <>
          <QuotaUsage quota={quota.data} label={t("quotas.tableOf", { username: quota.data.username })} />
          <QuotaForm key={quota.data.username} quota={quota.data} />
        </>
      ) : null}
    </Stack>
  );
}

// Create a user with a role (users:manage); the API checks the password rules.
import { Alert, Button, Group, NativeSelect, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { type Role, useApi } from "../../api";
import { apiMessage } from "../search/types";
import { ROLES } from "./format";

export function CreateUserForm() {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const create = useMutation({
    mutationFn: async () => {
      const { data, error, response } = await client.POST("/api/v1/users", {
        body: { username: username.trim(), password, role },
      });
      if (!data) throw new Error(apiMessage(error, response.status));
      return data;
    },
    onSuccess: async () => {
      setUsername("");
      setPassword("");
      await queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/users"] });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (username.trim() && password) create.mutate();
  }

  return (
    <Paper withBorder p="md" radius="md">
      <form onSubmit={submit} aria-labelledby="create-user-title">
        <Stack gap="sm">
          <Title order={3} size="h5" id="create-user-title">
            {t("admin.users.create")}
          </Title>
          <Group gap="sm" align="flex-end" wrap="wrap">
            <TextInput
              label={t("admin.users.username")}
              name="new-username"
              autoComplete="off"
              required
              style={{ flex: "1 1 12rem" }}
              value={username}
              onChange={(event) => setUsername(event.currentTarget.value)}
            />
            <PasswordInput
              label={t("admin.users.password")}
              name="new-password"
              autoComplete="new-password"
              required
              style={{ flex: "1 1 12rem" }}
              value={password}
              onChange={(event) => setPassword(event.currentTarget.value)}
            />
            <NativeSelect
              label={t("admin.users.role")}
              name="new-role"
              value={role}
              data={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
              onChange={(event) => setRole(event.currentTarget.value as Role)}
            />
            <Button type="submit" loading={create.isPending} disabled={!username.trim() || !password}>
              {t("admin.users.createSubmit")}
            </Button>
          </Group>
          {create.isError ? (
            <Alert color="red" role="alert" title={t("admin.users.createFailed")}>
              {create.error.message}
            </Alert>
          ) : null}
          {create.isSuccess ? (
            <Alert color="green" role="status">
              {t("admin.users.createdUser", { username: create.data.username })}
            </Alert>
          ) : null}
        </Stack>
      </form>
    </Paper>
  );
}

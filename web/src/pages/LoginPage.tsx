import { Alert, Button, Center, Group, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation } from "react-router";
import { LoginError, useApi, useAuthState } from "../api";
import { LanguageSwitch } from "../shell/LanguageSwitch";

type Field = "username" | "password";

export default function LoginPage() {
  const { t } = useTranslation();
  const { session } = useApi();
  const state = useAuthState();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [invalid, setInvalid] = useState<Partial<Record<Field, string>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = `${t("login.title")}`;
  }, [t]);

  if (state === "authenticated") {
    const from = (location.state as { from?: unknown } | null)?.from;
    return <Navigate to={typeof from === "string" && from.startsWith("/") ? from : "/"} replace />;
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const problems: Partial<Record<Field, string>> = {};
    if (!username.trim()) problems.username = t("login.usernameRequired");
    if (!password) problems.password = t("login.passwordRequired");
    setInvalid(problems);
    setFailure(null);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    try {
      await session.login(username.trim(), password);
    } catch (error) {
      setFailure(describe(error));
      setBusy(false);
    }
  }

  function describe(error: unknown): string {
    if (error instanceof LoginError && error.status === 401) return t("login.invalid");
    if (error instanceof LoginError && error.status === 429) return t("login.locked");
    return t("login.failed", { reason: error instanceof Error ? error.message : String(error) });
  }

  return (
    <Center component="main" mih="100dvh" p="md">
      <Paper withBorder shadow="sm" p="lg" radius="md" w="100%" maw={380}>
        <form onSubmit={(event) => void submit(event)} noValidate aria-labelledby="login-title">
          <Stack gap="md">
            <Group justify="space-between" wrap="nowrap">
              <Title order={1} size="h3" id="login-title">
                {t("login.title")}
              </Title>
              <LanguageSwitch />
            </Group>
            {failure ? (
              <Alert color="red" role="alert" title={failure} />
            ) : null}
            <TextInput
              label={t("login.username")}
              name="username"
              autoComplete="username"
              autoFocus
              required
              value={username}
              error={invalid.username}
              onChange={(event) => setUsername(event.currentTarget.value)}
            />
            <PasswordInput
              label={t("login.password")}
              name="password"
              autoComplete="current-password"
              required
              value={password}
              error={invalid.password}
              onChange={(event) => setPassword(event.currentTarget.value)}
            />
            <Button type="submit" loading={busy} fullWidth>
              {t("login.submit")}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

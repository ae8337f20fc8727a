import { Badge, Button, Group, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { isRole, useApi, useMe } from "../api";

export function UserPanel() {
  const { t } = useTranslation();
  const { session } = useApi();
  const { me, isPending } = useMe();
  return (
    <Stack gap="xs" data-testid="user-panel">
      {isPending || !me ? (
        <Text size="sm" c="dimmed">
          {t("user.loading")}
        </Text>
      ) : (
        <Group gap="xs" wrap="wrap">
          <Text size="sm" fw={600}>
            {t("user.signedInAs", { username: me.username })}
          </Text>
          <Badge variant="light" aria-label={t("user.role", { role: roleLabel(me.role) })}>
            {roleLabel(me.role)}
          </Badge>
        </Group>
      )}
      <Button variant="default" size="xs" onClick={() => void session.logout()}>
        {t("user.logout")}
      </Button>
    </Stack>
  );

  function roleLabel(role: string): string {
    return isRole(role) ? t(`roles.${role}`) : role;
  }
}

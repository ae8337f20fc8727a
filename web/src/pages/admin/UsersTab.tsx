// Users: list, create with a role, change role, disable / enable (users:manage).
import { Alert, Badge, Button, Group, NativeSelect, Stack, Table, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { type components, useApi, useMe } from "../../api";
import { apiMessage } from "../search/types";
import { CreateUserForm } from "./CreateUserForm";
import { formatWhen, ROLES } from "./format";

type UserPatch = components["schemas"]["UserPatch"];

export function UsersTab() {
  const { t } = useTranslation();
  const { $api, client } = useApi();
  const { me } = useMe();
  const queryClient = useQueryClient();
  const users = $api.useQuery("get", "/api/v1/users");
  const update = useMutation({
    mutationFn: async ({ username, patch }: { username: string; patch: UserPatch }) => {
      const { data, error, response } = await client.PATCH("/api/v1/users/{username}", {
        params: { path: { username } },
        body: patch,
      });
      if (!data) throw new Error(apiMessage(error, response.status));
      return data;
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/users"] }),
  });

  return (
    <Stack gap="md">
      <CreateUserForm />
      {update.isError ? (
        <Alert color="red" role="alert" title={t("admin.users.updateFailed")}>
          {update.error.message}
        </Alert>
      ) : null}
      {users.isError ? (
        <Alert color="red" role="alert">
          {apiMessage(users.error)}
        </Alert>
      ) : null}
      <Table.ScrollContainer minWidth={760}>
        <Table striped highlightOnHover aria-label={t("admin.users.table")}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("admin.users.username")}</Table.Th>
              <Table.Th>{t("admin.users.role")}</Table.Th>
              <Table.Th>{t("admin.users.status")}</Table.Th>
              <Table.Th>{t("admin.users.created")}</Table.Th>
              <Table.Th>{t("admin.users.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data ?? []).map((user) => (
              <Table.Tr key={user.id} data-testid={`user-${user.username}`}>
                <Table.Td>
                  <Text fw={600}>{user.username}</Text>
                </Table.Td>
                <Table.Td>
                  <NativeSelect
                    size="xs"
                    miw={150}
                    aria-label={t("admin.users.roleOf", { username: user.username })}
                    value={user.role}
                    disabled={update.isPending || user.username === me?.username}
                    data={ROLES.map((role) => ({ value: role, label: t(`roles.${role}`) }))}
                    onChange={(event) =>
                      update.mutate({ username: user.username, patch: { role: event.currentTarget.value } })
                    }
                  />
                </Table.Td>
                <Table.Td>
                  <Badge color={user.is_active ? "green" : "gray"} variant="dot">
                    {user.is_active ? t("admin.users.active") : t("admin.users.disabled")}
                  </Badge>
                </Table.Td>
                <Table.Td>{formatWhen(user.created_at)}</Table.Td>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Button
                      size="xs"
                      variant="default"
                      disabled={update.isPending || user.username === me?.username}
                      onClick={() =>
                        update.mutate({ username: user.username, patch: { is_active: !user.is_active } })
                      }
                    >
                      {user.is_active
                        ? t("admin.users.disable", { username: user.username })
                        : t("admin.users.enable", { username: user.username })}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

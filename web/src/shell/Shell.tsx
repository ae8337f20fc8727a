// The signed-in frame: header (brand, language, menu button), role-aware navigation, main.
import { AppShell, Box, Burger, Center, Group, Loader, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { NavLink as RouterLink, Outlet } from "react-router";
import { useMe } from "../api";
import { CasePicker } from "../pages/cases/CasePicker";
import { LanguageSwitch } from "./LanguageSwitch";
import { PageGuard } from "./PageGuard";
import { UserPanel } from "./UserPanel";
import { visibleItems } from "./visibleItems";

export function Shell() {
  const { t } = useTranslation();
  const [opened, { toggle, close }] = useDisclosure(false);
  const { me } = useMe();
  const items = visibleItems(me?.role);
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <a className="skip-link" href="#main">
        {t("skipToContent")}
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={opened ? t("nav.closeMenu") : t("nav.openMenu")}
              aria-expanded={opened}
              aria-controls="main-navigation"
            />
            <Title order={1} size="h3">
              {t("app.name")}
            </Title>
            <Text size="sm" c="dimmed" visibleFrom="sm">
              {t("app.tagline")}
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Box visibleFrom="sm">
              <CasePicker place="header" />
            </Box>
            <LanguageSwitch />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" id="main-navigation" aria-label={t("nav.label")}>
        <AppShell.Section grow component="ul" className="nav-list">
          {items.map((item) => (
            <li key={item.key}>
              <NavLink
                component={RouterLink}
                to={item.path}
                end={item.path === "/"}
                label={t(`nav.${item.key}`)}
                onClick={close}
              />
            </li>
          ))}
        </AppShell.Section>
        <AppShell.Section pt="sm" className="nav-footer">
          <Box hiddenFrom="sm" mb="sm">
            <CasePicker place="nav" />
          </Box>
          <UserPanel />
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Suspense
          fallback={
            <Center p="xl">
              <Loader size="sm" />
            </Center>
          }
        >
          <PageGuard>
            <Outlet />
          </PageGuard>
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

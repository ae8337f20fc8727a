// Administration, one tab per area the role may use: users and settings (users:manage), the
// audit trail (audit:read), models and workers (system:read), budgets, retention rules and quotas
// (their own permissions). The API checks every request.
import { Tabs } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { type Permission, useMe } from "../api";
import { AuditTab } from "./admin/AuditTab";
import { BudgetsTab } from "./admin/BudgetsTab";
import { NotAllowed } from "./admin/NotAllowed";
import { QuotasTab } from "./admin/QuotasTab";
import { RetentionTab } from "./admin/RetentionTab";
import { SettingsTab } from "./admin/SettingsTab";
import { ModelsTab, WorkersTab } from "./admin/SystemTabs";
import { UsersTab } from "./admin/UsersTab";
import { PageFrame } from "./PagePlaceholder";

const TABS = [
  { key: "users", permission: "users:manage", panel: <UsersTab /> },
  { key: "audit", permission: "audit:read", panel: <AuditTab /> },
  { key: "settings", permission: "users:manage", panel: <SettingsTab /> },
  { key: "models", permission: "system:read", panel: <ModelsTab /> },
  { key: "workers", permission: "system:read", panel: <WorkersTab /> },
  { key: "budgets", permission: "budgets:manage", panel: <BudgetsTab /> },
  { key: "quotas", permission: "quotas:manage", panel: <QuotasTab /> },
  { key: "retention", permission: "retention:manage", panel: <RetentionTab /> },
] as const satisfies readonly { key: string; permission: Permission; panel: React.ReactNode }[];

export default function AdminPage() {
  const { t } = useTranslation();
  const { can, me } = useMe();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((tab) => can(tab.permission));
  const active = tabs.find((tab) => tab.key === params.get("tab"))?.key ?? tabs[0]?.key;
  return (
    <PageFrame title={t("pages.admin.title")} intro={t("pages.admin.intro")}>
      {me && !active ? <NotAllowed /> : null}
      {active ? (
        <Tabs value={active} onChange={(value) => value && setParams({ tab: value }, { replace: true })} keepMounted={false}>
          <Tabs.List>
            {tabs.map((tab) => (
              <Tabs.Tab key={tab.key} value={tab.key}>
                {t(`admin.tabs.${tab.key}`)}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          {tabs.map((tab) => (
            <Tabs.Panel key={tab.key} value={tab.key} pt="md">
              {tab.panel}
            </Tabs.Panel>
          ))}
        </Tabs>
      ) : null}
    </PageFrame>
  );
}

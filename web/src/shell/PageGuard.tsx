// A page typed into the address bar that the role may not use shows "not allowed" instead of a
// broken page. Only a courtesy: the API refuses the requests anyway.
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useLocation } from "react-router";
import { canAny, useMe } from "../api";
import { NotAllowed } from "../pages/admin/NotAllowed";
import { PageFrame } from "../pages/PagePlaceholder";
import { NAV_ITEMS } from "./navigation";

export function PageGuard({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { me } = useMe();
  const { pathname } = useLocation();
  const item = NAV_ITEMS.find(
    (nav) => nav.path !== "/" && (pathname === nav.path || pathname.startsWith(`${nav.path}/`)),
  );
  if (me && item?.permissions && !canAny(me.role, item.permissions)) {
    return (
      <PageFrame title={t("notAllowed.title")}>
        <NotAllowed />
      </PageFrame>
    );
  }
  return children;
}

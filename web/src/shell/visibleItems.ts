import { canAny } from "../api";
import { NAV_ITEMS, type NavItem } from "./navigation";

export function visibleItems(role: string | null | undefined): NavItem[] {
  return NAV_ITEMS.filter((item) => item.permissions === null || canAny(role, item.permissions));
}

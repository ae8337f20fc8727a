// The pages of the app and who may use them. A page with `permissions` is shown to roles that
// hold at least one of them; the API still checks every request.
import type { Permission } from "../api";

export type PageKey = "dashboard" | "upload" | "library" | "people" | "search" | "review" | "cases" | "admin";

export interface NavItem {
  key: PageKey;
  path: string;
  permissions: readonly Permission[] | null; // null: every signed-in user
}

export const NAV_ITEMS: readonly NavItem[] = [
  { key: "dashboard", path: "/", permissions: null },
  { key: "upload", path: "/upload", permissions: ["media:upload"] },
  { key: "library", path: "/library", permissions: ["media:read"] },
  { key: "people", path: "/people", permissions: ["persons:read"] },
  { key: "search", path: "/search", permissions: ["search:text", "search:biometric"] },
  { key: "review", path: "/review", permissions: ["review:read"] },
  { key: "cases", path: "/cases", permissions: ["cases:read"] },
  { key: "admin", path: "/admin", permissions: ["users:manage", "audit:read", "system:read"] },
];

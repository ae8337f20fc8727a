// Role → permissions, generated from aima.security.permissions by scripts/openapi.py. The web
// app only uses it to hide what a role may not use; the API checks every request itself.
import table from "./permissions.json";

export type Role = keyof typeof table;
export type Permission = (typeof table)[Role][number];

const ROLES = table as Record<string, readonly string[] | undefined>;

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && value in table;
}

export function can(role: string | null | undefined, permission: Permission): boolean {
  return role != null && (ROLES[role]?.includes(permission) ?? false);
}

export function canAny(role: string | null | undefined, permissions: readonly Permission[]): boolean {
  return permissions.some((permission) => can(role, permission));
}

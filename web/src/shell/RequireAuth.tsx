import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuthState } from "../api";

/** Signed-out users (never signed in, logged out, or a 401 the session could not renew) go to /login. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const state = useAuthState();
  const location = useLocation();
  if (state !== "authenticated") {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  return children;
}

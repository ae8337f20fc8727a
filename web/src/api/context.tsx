// Wires one Session + one typed client into React: <ApiProvider>, useApi(), useAuthState(), useMe().
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
import { type ApiClient, createApiClient, createHooks, type QueryHooks } from "./client";
import { type Permission, can } from "./permissions";
import { type AuthState, createCookieSession, type Session } from "./session";

export interface Api {
  session: Session;
  client: ApiClient;
  $api: QueryHooks;
}

export function createApi(options: { session?: Session; fetch?: typeof fetch } = {}): Api {
  const session = options.session ?? createCookieSession({ fetch: options.fetch });
  const client = createApiClient(session, { fetch: options.fetch });
  return { session, client, $api: createHooks(client) };
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: (count, error) => count < 2 && !isHttpError(error), staleTime: 10_000 },
    },
  });
}

function isHttpError(error: unknown): boolean {
  return typeof error === "object" && error !== null && "detail" in error;
}

const ApiContext = createContext<Api | null>(null);

export function ApiProvider({
  api,
  queryClient,
  children,
}: {
  api: Api;
  queryClient: QueryClient;
  children: ReactNode;
}) {
  return (
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={queryClient}>
        <ForgetOnLogout session={api.session} />
        {children}
      </QueryClientProvider>
    </ApiContext.Provider>
  );
}

/** Cached answers belong to the user who asked: drop them when the session ends. */
function ForgetOnLogout({ session }: { session: Session }) {
  const queryClient = useQueryClient();
  useEffect(
    () =>
      session.subscribe(() => {
        if (session.state() === "anonymous") queryClient.clear();
      }),
    [session, queryClient],
  );
  return null;
}

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi() outside <ApiProvider>");
  return api;
}

export function useAuthState(): AuthState {
  const { session } = useApi();
  return useSyncExternalStore(session.subscribe, session.state, session.state);
}

export interface Me {
  userId: string | null;
  username: string;
  role: string;
}

/** The logged-in user (GET /api/v1/auth/me) and a permission check for their role. */
export function useMe() {
  const { $api } = useApi();
  const query = $api.useQuery("get", "/api/v1/auth/me");
  const me = useMemo<Me | undefined>(() => {
    const raw = query.data;
    if (!raw) return undefined;
    return { userId: raw.user_id ?? null, username: raw.username ?? "", role: raw.role ?? "" };
  }, [query.data]);
  return {
    ...query,
    me,
    can: (permission: Permission) => can(me?.role, permission),
  };
}

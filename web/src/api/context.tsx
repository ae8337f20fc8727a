// Wires one Session + one typed client into React: <ApiProvider>, useApi(), useAuthState(), useMe().
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
import { type CaseStore, createCaseStore } from "./case";
import { type ApiClient, createApiClient, createHooks, type QueryHooks } from "./client";
import { type Permission, can } from "./permissions";
import { type AuthState, createCookieSession, type Session } from "./session";

export interface Api {
  session: Session;
  client: ApiClient;
  $api: QueryHooks;
  /** The current case (purpose binding), sent as X-AIMA-Case with every request. */
  cases: CaseStore;
}

export function createApi(
  options: { session?: Session; fetch?: typeof fetch; cases?: CaseStore } = {},
): Api {
  const session = options.session ?? createCookieSession({ fetch: options.fetch });
  const cases = options.cases ?? createCaseStore();
  const client = createApiClient(session, { fetch: options.fetch, currentCase: cases.get });
  return { session, client, $api: createHooks(client), cases };
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
        <ForgetOnLogout session={api.session} cases={api.cases} />
        {children}
      </QueryClientProvider>
    </ApiContext.Provider>
  );
}

/** Cached answers belong to the user who asked: drop them when the session ends. */
function ForgetOnLogout({ session, cases }: { session: Session; cases: CaseStore }) {
  const queryClient = useQueryClient();
  useEffect(
    () =>
      session.subscribe(() => {
        if (session.state() !== "anonymous") return;
        queryClient.clear();
        cases.set(null);
      }),
    [session, cases, queryClient],
  );
  // answers given under one case are not the answers under another: ask again
  useEffect(() => cases.subscribe(() => void queryClient.invalidateQueries()), [cases, queryClient]);
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

/** The current case id (null: none chosen) and how to change it. */
export function useCurrentCase(): [string | null, (id: string | null) => void] {
  const { cases } = useApi();
  const id = useSyncExternalStore(cases.subscribe, cases.get, cases.get);
  return [id, cases.set];
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

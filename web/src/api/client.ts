// The typed API client (openapi-fetch over the generated schema) and the TanStack Query
// hooks made from it (openapi-react-query): `$api.useQuery("get", "/api/v1/jobs", ...)`.
import createClient, { type Client } from "openapi-fetch";
import createQueryHooks from "openapi-react-query";
import { caseMiddleware } from "./case";
import type { paths } from "./schema";
import { defaultBaseUrl, type Session } from "./session";

export type ApiClient = Client<paths>;
export type QueryHooks = ReturnType<typeof createQueryHooks<paths>>;

/** A fetch that adds the session's credentials, renews them once on 401, then gives up. */
export function authorizedFetch(session: Session, base: typeof fetch = globalThis.fetch) {
  return async (request: Request): Promise<Response> => {
    const retry = request.clone();
    const response = await base(session.authorize(request));
    if (response.status !== 401) return response;
    if (await session.refresh()) {
      const again = await base(session.authorize(retry));
      if (again.status !== 401) return again;
    }
    session.expire();
    return response;
  };
}

export function createApiClient(
  session: Session,
  options: { fetch?: typeof fetch; baseUrl?: string; currentCase?: () => string | null } = {},
): ApiClient {
  const base = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const client = createClient<paths>({
    baseUrl: options.baseUrl ?? defaultBaseUrl(),
    fetch: authorizedFetch(session, base),
  });
  if (options.currentCase) client.use(caseMiddleware(options.currentCase));
  return client;
}

export function createHooks(client: ApiClient): QueryHooks {
  return createQueryHooks(client);
}

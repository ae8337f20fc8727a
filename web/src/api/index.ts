// The one module the pages import for anything that talks to the API.
export { authorizedFetch, createApiClient, type ApiClient } from "./client";
export {
  type Api,
  ApiProvider,
  createApi,
  createQueryClient,
  type Me,
  useApi,
  useAuthState,
  useMe,
} from "./context";
export { followJob, type JobEnd, type JobProgress } from "./events";
export { can, canAny, isRole, type Permission, type Role } from "./permissions";
export { type AuthState, createTokenSession, LoginError, type Session } from "./session";
export type { components, paths } from "./schema";

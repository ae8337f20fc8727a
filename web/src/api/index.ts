// The one module the pages import for anything that talks to the API.
export {
  CASE_HEADER,
  type CaseProblem,
  caseProblem,
  type CaseStore,
  createCaseStore,
  withCase,
} from "./case";
export { authorizedFetch, createApiClient, type ApiClient } from "./client";
export {
  type Api,
  ApiProvider,
  createApi,
  createQueryClient,
  type Me,
  useApi,
  useAuthState,
  useCurrentCase,
  useMe,
} from "./context";
export { followJob, type JobEnd, type JobProgress, type StreamState } from "./events";
export { can, canAny, isRole, type Permission, type Role } from "./permissions";
export {
  type AuthState,
  createCookieSession,
  CSRF_HEADER,
  LoginError,
  type Session,
} from "./session";
export type { components, paths } from "./schema";

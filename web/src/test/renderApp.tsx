import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createApi, createQueryClient } from "../api";
import { App } from "../App";
import { createI18n, type Language } from "../i18n";
import { type FakeRoutes, fakeServer, USERS } from "./fakeApi";

export function renderApp(options: { path?: string; language?: Language; routes?: FakeRoutes } = {}) {
  const server = fakeServer(USERS, options.routes);
  const api = createApi({ fetch: server.fetch });
  const queryClient = createQueryClient();
  queryClient.setDefaultOptions({ queries: { retry: false } });
  const i18n = createI18n(options.language ?? "en");
  const user = userEvent.setup();
  const view = render(
    <App api={api} queryClient={queryClient} i18n={i18n} initialPath={options.path ?? "/"} />,
  );
  return { ...view, server, api, i18n, user };
}

export async function logIn(
  user: ReturnType<typeof userEvent.setup>,
  screen: typeof import("@testing-library/react").screen,
  username: string,
  password: string,
) {
  await user.type(await screen.findByLabelText("Username", { exact: false, selector: "input" }), username);
  await user.type(screen.getByLabelText("Password", { exact: false, selector: "input" }), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

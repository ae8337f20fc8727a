// Renders one component with every provider and a signed-in fake API (no router pages, no login
// form): for component tests that need the API but not the whole app.
import { MantineProvider } from "@mantine/core";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { I18nextProvider } from "react-i18next";
import { createMemoryRouter, RouterProvider } from "react-router";
import { ApiProvider, createApi, createQueryClient } from "../api";
import { createI18n, type Language } from "../i18n";
import { type FakeRoutes, fakeServer, USERS } from "./fakeApi";

export async function renderWithApi(
  ui: ReactNode,
  options: { username?: string; routes?: FakeRoutes; language?: Language } = {},
) {
  const server = fakeServer(USERS, options.routes);
  const api = createApi({ fetch: server.fetch });
  const account = USERS.find((u) => u.username === (options.username ?? "admin"));
  if (!account) throw new Error(`no fake user ${options.username}`);
  await api.session.login(account.username, account.password);
  const queryClient = createQueryClient();
  queryClient.setDefaultOptions({ queries: { retry: false } });
  const i18n = createI18n(options.language ?? "en");
  const router = createMemoryRouter([{ path: "*", element: ui }]);
  const view = render(
    <I18nextProvider i18n={i18n}>
      <MantineProvider>
        <ApiProvider api={api} queryClient={queryClient}>
          <RouterProvider router={router} />
        </ApiProvider>
      </MantineProvider>
    </I18nextProvider>,
  );
  return { ...view, server, api, user: userEvent.setup() };
}

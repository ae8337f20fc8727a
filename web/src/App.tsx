// Providers and routes. Pages load lazily, so each one's code arrives when it is first opened.
import { Center, Loader, MantineProvider } from "@mantine/core";
import type { QueryClient } from "@tanstack/react-query";
import type { i18n } from "i18next";
import { lazy, Suspense, useState } from "react";
import { I18nextProvider } from "react-i18next";
import { createBrowserRouter, createMemoryRouter, type RouteObject, RouterProvider } from "react-router";
import { type Api, ApiProvider } from "./api";
import LoginPage from "./pages/LoginPage";
import { RequireAuth } from "./shell/RequireAuth";
import { Shell } from "./shell/Shell";
import { theme } from "./theme";

const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const UploadPage = lazy(() => import("./pages/UploadPage"));
const LibraryPage = lazy(() => import("./pages/LibraryPage"));
const PeoplePage = lazy(() => import("./pages/PeoplePage"));
const PersonPage = lazy(() => import("./pages/PersonPage"));
const SearchPage = lazy(() => import("./pages/SearchPage"));
const MediaPage = lazy(() => import("./pages/MediaPage"));
const ReviewPage = lazy(() => import("./pages/ReviewPage"));
const CasesPage = lazy(() => import("./pages/CasesPage"));
const AdminPage = lazy(() => import("./pages/AdminPage"));
const NotFoundPage = lazy(() => import("./pages/NotFoundPage"));

export function Loading() {
  return (
    <Center p="xl">
      <Loader size="sm" />
    </Center>
  );
}

export const routes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  {
    path: "/",
    element: (
      <RequireAuth>
        <Shell />
      </RequireAuth>
    ),
    children: [
      { index: true, element: <DashboardPage /> },
      { path: "upload", element: <UploadPage /> },
      { path: "library", element: <LibraryPage /> },
      { path: "people", element: <PeoplePage /> },
      { path: "people/:id", element: <PersonPage /> },
      { path: "search", element: <SearchPage /> },
      { path: "media/:id", element: <MediaPage /> },
      { path: "review", element: <ReviewPage /> },
      { path: "cases", element: <CasesPage /> },
      { path: "admin", element: <AdminPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];

export interface AppProps {
  api: Api;
  queryClient: QueryClient;
  i18n: i18n;
  /** Tests start at a path in memory; the browser uses the address bar. */
  initialPath?: string;
}

export function App({ api, queryClient, i18n, initialPath }: AppProps) {
  const [router] = useState(() =>
    initialPath === undefined
      ? createBrowserRouter(routes)
      : createMemoryRouter(routes, { initialEntries: [initialPath] }),
  );
  return (
    <I18nextProvider i18n={i18n}>
      <MantineProvider theme={theme} defaultColorScheme="auto">
        <ApiProvider api={api} queryClient={queryClient}>
          <Suspense fallback={<Loading />}>
            <RouterProvider router={router} />
          </Suspense>
        </ApiProvider>
      </MantineProvider>
    </I18nextProvider>
  );
}

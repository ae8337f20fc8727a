import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { logIn, renderApp } from "../test/renderApp";

function navLinks(label = "Main navigation") {
  const nav = screen.getByRole("navigation", { name: label });
  return within(nav)
    .getAllByRole("link")
    .map((link) => link.textContent);
}

describe("login form", () => {
  it("asks for both fields before calling the API", async () => {
    const { user, server } = renderApp({ path: "/login" });
    await user.click(await screen.findByRole("button", { name: "Sign in" }));
    expect(screen.getByText("Enter your username")).toBeInTheDocument();
    expect(screen.getByText("Enter your password")).toBeInTheDocument();
    expect(server.calls).toEqual([]);
  });

  it("says so when the credentials are wrong and stays on the login page", async () => {
    const { user } = renderApp({ path: "/login" });
    await logIn(user, screen, "admin", "nope");
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password");
    expect(screen.getByRole("heading", { name: "Sign in to AIMA" })).toBeInTheDocument();
  });

  it("sends a signed-out visitor to the login page, then back where they wanted to go", async () => {
    const { user } = renderApp({ path: "/people" });
    await logIn(user, screen, "admin", "admin-pw");
    expect(await screen.findByRole("heading", { level: 2, name: "People" })).toBeInTheDocument();
    expect(await screen.findByText("Signed in as admin")).toBeInTheDocument();
    expect(screen.getByText("Administrator")).toBeInTheDocument();
  });
});

describe("role-aware navigation", () => {
  it.each([
    ["admin", "admin-pw", ["Dashboard", "Upload", "Library", "People", "Search", "Review", "Cases", "Admin"]],
    ["ana", "analyst-pw", ["Dashboard", "Upload", "Library", "People", "Search", "Review", "Cases", "Admin"]],
    ["vera", "viewer-pw", ["Dashboard", "Library", "People", "Search", "Cases"]],
    ["uli", "uploader-pw", ["Dashboard", "Upload", "Library", "Search", "Cases"]],
    ["audrey", "auditor-pw", ["Dashboard", "Review", "Admin"]],
  ])("%s sees only the pages their role may use", async (username, password, expected) => {
    const { user } = renderApp({ path: "/login" });
    await logIn(user, screen, username, password);
    await screen.findByText(`Signed in as ${username}`);
    expect(navLinks()).toEqual(expected);
  });
});

describe("session", () => {
  it("logs out back to the login page and clears the session cookies", async () => {
    const { user } = renderApp({ path: "/login" });
    await logIn(user, screen, "admin", "admin-pw");
    await user.click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Sign in to AIMA" })).toBeInTheDocument();
    expect(document.cookie).not.toContain("aima_csrf");
    expect(sessionStorage.length).toBe(0);
  });

  it("renews an expired access token once, then sends a refused session to the login page", async () => {
    const first = renderApp({ path: "/login" });
    await logIn(first.user, screen, "vera", "viewer-pw");
    await screen.findByText("Signed in as vera");
    expect(document.cookie).toContain("aima_csrf=");
    expect(sessionStorage.length).toBe(0);
    first.unmount();

    // a reload: the CSRF cookie says a session may exist; its access cookie has expired
    const again = renderApp({ path: "/search" });
    again.server.expireTokens();
    again.server.refreshWorks = false;
    expect(await screen.findByRole("heading", { name: "Sign in to AIMA" })).toBeInTheDocument();
    expect(again.server.calls).toContain("POST /api/v1/auth/session/refresh");
    expect(document.cookie).not.toContain("aima_csrf");
  });
});

describe("language switch", () => {
  it("switches the whole shell to German and remembers the choice", async () => {
    const { user } = renderApp({ path: "/login" });
    await logIn(user, screen, "admin", "admin-pw");
    await screen.findByText("Signed in as admin");
    await user.selectOptions(screen.getByRole("combobox", { name: "Language" }), "de");
    await waitFor(() =>
      expect(navLinks("Hauptnavigation")).toEqual(["Übersicht", "Hochladen", "Bibliothek", "Personen", "Suche", "Prüfung", "Fälle", "Verwaltung"]),
    );
    expect(screen.getByRole("heading", { level: 2, name: "Übersicht" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Abmelden" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("de");
    expect(localStorage.getItem("aima.language")).toBe("de");
  });
});

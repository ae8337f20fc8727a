import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { components } from "../../api";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { BudgetsTab } from "./BudgetsTab";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

type Budget = components["schemas"]["BudgetOut"];

describe("BudgetsTab", () => {
  it("lists, creates and deletes budgets", async () => {
    const budgets: Budget[] = [];
    const sent: unknown[] = [];
    const { user } = await renderWithApi(<BudgetsTab />, {
      routes: async (request, path) => {
        if (path === "/api/v1/budgets" && request.method === "GET") return json(200, budgets);
        if (path === "/api/v1/budgets" && request.method === "PUT") {
          const body = (await request.json()) as Budget & { currency: string | null };
          sent.push(body);
          budgets.push({ ...body, id: "bud_1", currency: body.currency ?? "EUR", spent: 2, created_by: "api:admin", created_at: "2026-12-01T00:00:00Z" });
          return json(200, budgets[0]);
        }
        if (path === "/api/v1/budgets/bud_1" && request.method === "DELETE") {
          budgets.pop();
          return new Response(null, { status: 204 });
        }
        return null;
      },
    });
    expect(await screen.findByText(/No budget set/)).toBeInTheDocument();
    await user.type(screen.getByRole("textbox", { name: /User id or project/ }), "harbour");
    await user.type(screen.getByRole("textbox", { name: /Soft limit/ }), "20");
    await user.type(screen.getByRole("textbox", { name: /Hard limit/ }), "10");
    expect(screen.getByText("The soft limit must not be above the hard limit.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Save budget" })).toBeDisabled();
    await user.clear(screen.getByRole("textbox", { name: /Hard limit/ }));
    await user.type(screen.getByRole("textbox", { name: /Hard limit/ }), "50");
    await user.click(screen.getByRole("button", { name: "Save budget" }));
    const row = await screen.findByTestId("budget-harbour");
    expect(sent).toEqual([{ scope: "project", subject: "harbour", period: "month", soft_limit: 20, hard_limit: 50, currency: null }]);
    expect(row).toHaveTextContent("Project");
    expect(row).toHaveTextContent("€50.00");
    await user.click(within(row).getByRole("button", { name: "Delete the budget of harbour" }));
    await waitFor(() => expect(screen.queryByTestId("budget-harbour")).toBeNull());
  });
});

import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { MyUsage } from "../upload/MyUsage";
import type { Quota, QuotaIn } from "./quotas";
import { QuotasTab } from "./QuotasTab";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

const DEFAULTS = { uploads_per_day: 0, bytes_per_day: 0, gpu_seconds_per_month: 0, money_per_month: 0, requests_per_minute: 600 };

function quotaOf(username: string, overrides: QuotaIn = {}): Quota {
  const set = Object.entries(overrides).filter(([, v]) => v !== null && v !== undefined) as [keyof typeof DEFAULTS, number][];
  return {
    username,
    user_id: `usr_${username}`,
    limits: { ...DEFAULTS, ...Object.fromEntries(set) },
    overridden: set.map(([k]) => k),
    usage: {
      uploads_today: 4,
      bytes_today: 3_000_000,
      gpu_seconds_month: 0,
      money_month: 0,
      day_resets_at: "2026-12-05T00:00:00Z",
      month_resets_at: "2027-01-01T00:00:00Z",
    },
    remaining: {},
    currency: "EUR",
  };
}

describe("QuotasTab", () => {
  it("shows a user's limits and usage and saves new limits", async () => {
    const stored: Record<string, Quota> = { admin: quotaOf("admin"), uli: quotaOf("uli") };
    const sent: unknown[] = [];
    const users = ["admin", "uli"].map((username) => ({
      id: `usr_${username}`,
      username,
      role: username === "admin" ? "admin" : "uploader",
      is_active: true,
      created_at: "2026-12-01T00:00:00Z",
    }));
    const { user } = await renderWithApi(<QuotasTab />, {
      routes: async (request, path) => {
        if (path === "/api/v1/users") return json(200, users);
        const match = path.match(/^\/api\/v1\/users\/(\w+)\/quota$/);
        if (match?.[1] && request.method === "GET") return json(200, stored[match[1]]);
        if (match?.[1] && request.method === "PUT") {
          const body = (await request.json()) as QuotaIn;
          sent.push(body);
          stored[match[1]] = { ...quotaOf(match[1], body), updated_at: "2026-12-04T02:00:00Z", updated_by: "api:admin" };
          return json(200, stored[match[1]]);
        }
        return null;
      },
    });
    await screen.findByRole("table", { name: "Quotas of admin" });
    await user.selectOptions(screen.getByRole("combobox", { name: "User" }), "uli");
    const table = await screen.findByRole("table", { name: "Quotas of uli" });
    expect(within(table).getByTestId("quota-uploads_per_day")).toHaveTextContent("unlimited");
    expect(within(table).getByTestId("quota-bytes_per_day")).toHaveTextContent("3 MB");
    expect(within(table).getByTestId("quota-requests_per_minute")).toHaveTextContent("600");

    await user.type(screen.getByRole("textbox", { name: "Uploads per day" }), "5");
    await user.type(screen.getByRole("textbox", { name: "Upload size per day (MB)" }), "-1");
    expect(screen.getByRole("button", { name: "Save limits" })).toBeDisabled();
    await user.clear(screen.getByRole("textbox", { name: "Upload size per day (MB)" }));
    await user.type(screen.getByRole("textbox", { name: "Upload size per day (MB)" }), "250");
    await user.click(screen.getByRole("button", { name: "Save limits" }));
    expect(await screen.findByText("Limits of uli saved.")).toBeInTheDocument();
    expect(sent).toEqual([
      { uploads_per_day: 5, bytes_per_day: 250_000_000, gpu_seconds_per_month: null, money_per_month: null, requests_per_minute: null },
    ]);
    await waitFor(() => expect(screen.getByTestId("quota-uploads_per_day")).toHaveTextContent("set for this user"));
    expect(screen.getByTestId("quota-uploads_per_day")).toHaveTextContent(/4\s*5/);
    expect(screen.getByTestId("quota-bytes_per_day")).toHaveTextContent("250 MB");
  });
});

describe("MyUsage", () => {
  it("shows the caller's own usage", async () => {
    await renderWithApi(<MyUsage />, {
      username: "uli",
      routes: (_request, path) => (path === "/api/v1/me/quota" ? json(200, quotaOf("uli", { uploads_per_day: 10 })) : null),
    });
    const row = await screen.findByTestId("quota-uploads_per_day");
    expect(row).toHaveTextContent("Uploads per day");
    expect(row).toHaveTextContent(/4\s*10/);
    expect(screen.getByRole("progressbar", { name: "Uploads per day used" })).toBeInTheDocument();
  });
});

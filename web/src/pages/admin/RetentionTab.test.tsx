import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import type { Rule, RuleRun } from "./retention";
import { RetentionTab } from "./RetentionTab";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

describe("RetentionTab", () => {
  it("adds a rule, changes it, previews a run, runs it and deletes the rule", async () => {
    const rules: Rule[] = [];
    const runs: unknown[] = [];
    const patches: unknown[] = [];
    const { user } = await renderWithApi(<RetentionTab />, {
      routes: async (request, path) => {
        if (path === "/api/v1/retention/rules" && request.method === "GET") return json(200, rules);
        if (path === "/api/v1/retention/rules" && request.method === "POST") {
          const body = (await request.json()) as Omit<Rule, "id">;
          rules.push({ ...body, id: "ret_1", created_by: "api:admin", created_at: "2026-12-04T00:00:00Z", last_run_at: null, last_run_count: 0 });
          return json(201, rules[0]);
        }
        if (path === "/api/v1/retention/rules/ret_1" && request.method === "PATCH") {
          const body = (await request.json()) as Partial<Rule>;
          patches.push(body);
          Object.assign(rules[0] ?? {}, body);
          return json(200, rules[0]);
        }
        if (path === "/api/v1/retention/rules/ret_1" && request.method === "DELETE") {
          rules.pop();
          return new Response(null, { status: 204 });
        }
        if (path === "/api/v1/retention/run") {
          const body = (await request.json()) as { dry_run: boolean; rule_id: string | null };
          runs.push(body);
          const run: RuleRun = {
            rule_id: "ret_1",
            library: "cams",
            media_kind: null,
            action: "delete_raw",
            after_days: 7,
            dry_run: body.dry_run,
            cutoff: "2026-11-27T00:00:00Z",
            count: 2,
            media: ["med_a", "med_b"],
            skipped: body.dry_run ? [] : ["med_c"],
          };
          if (!body.dry_run && rules[0]) Object.assign(rules[0], { last_run_at: "2026-12-04T01:00:00Z", last_run_count: 2 });
          return json(200, [run]);
        }
        return null;
      },
    });
    expect(await screen.findByText(/No retention rule/)).toBeInTheDocument();
    const library = screen.getByRole("textbox", { name: /Library/ });
    await user.clear(library);
    await user.type(library, "Cams!");
    await user.click(screen.getByRole("button", { name: "Add rule" }));
    expect(screen.getByText("1–64 characters: a–z, 0–9, _ and -.")).toBeInTheDocument();
    await user.clear(library);
    await user.type(library, "cams");
    await user.click(screen.getByRole("button", { name: "Add rule" }));
    const row = await screen.findByTestId("rule-ret_1");
    expect(row).toHaveTextContent("Delete original file");
    expect(row).toHaveTextContent("30 days");
    expect(row).toHaveTextContent("never");

    // change it: 7 days, same rule
    await user.click(within(row).getByRole("button", { name: "Edit the rule for library cams" }));
    const days = await screen.findByRole("textbox", { name: /After \(days\)/ });
    expect(days).toHaveValue("30");
    await user.clear(days);
    await user.type(days, "7");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(screen.getByTestId("rule-ret_1")).toHaveTextContent("7 days"));
    expect(patches).toEqual([{ library: "cams", media_kind: null, action: "delete_raw", after_days: 7, enabled: true }]);

    // run now: the dry run first, then the confirmed run
    await user.click(screen.getByRole("button", { name: "Run now… (library cams)" }));
    const panel = await screen.findByTestId("retention-run");
    expect(await within(panel).findByText(/Dry run: 2 media would be deleted now/)).toBeInTheDocument();
    expect(runs).toEqual([{ dry_run: true, rule_id: "ret_1" }]);
    await user.click(within(panel).getByRole("button", { name: "Delete 2 media now" }));
    expect(await within(panel).findByText(/Deleted 2 media, skipped 1/)).toBeInTheDocument();
    expect(runs).toEqual([
      { dry_run: true, rule_id: "ret_1" },
      { dry_run: false, rule_id: "ret_1" },
    ]);
    await waitFor(() => expect(screen.getByTestId("rule-ret_1")).toHaveTextContent("· 2 media"));

    // disable, then delete (after a confirmation)
    await user.click(screen.getByRole("switch", { name: "Rule for library cams enabled" }));
    await waitFor(() => expect(patches).toHaveLength(2));
    expect(patches[1]).toEqual({ enabled: false });
    await user.click(screen.getByRole("button", { name: "Delete the rule for library cams" }));
    await user.click(screen.getByRole("button", { name: "Delete the rule" }));
    await waitFor(() => expect(screen.queryByTestId("rule-ret_1")).toBeNull());
  });
});

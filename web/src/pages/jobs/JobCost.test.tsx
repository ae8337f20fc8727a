import { configure, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { json } from "../../test/fakeApi";
import { renderWithApi } from "../../test/renderWithApi";
import { JobCost } from "./JobCost";
import { combineEstimates, type Estimate, formatMoney, type Job } from "./money";

// a loaded CI machine renders slowly: wait on the DOM generously, never on a clock
configure({ asyncUtilTimeout: 15_000 });
vi.setConfig({ testTimeout: 60_000 });

const estimate = (over: Partial<Estimate> = {}): Estimate => ({
  amount: 1.25,
  currency: "EUR",
  device: "runpod:A100",
  duration_s: 150,
  confirmation_required: true,
  analyzers: [],
  budgets: [{ id: "bud_1", scope: "project", subject: "harbour", period: "month", soft_limit: 5, hard_limit: 10, spent: 6 }],
  offers: [
    { provider: "runpod", gpu_type: "A100", gpu_memory_gb: 80, price_per_hour: 1.8, amount: 1.25, duration_s: 150, available: true, region: "EU" },
  ],
  warnings: ["project harbour: soft limit 5 EUR reached"],
  ...over,
});

const job = (over: Partial<Job> = {}): Job => ({
  id: "job_1",
  media_id: "med_1",
  media_name: "harbour.mp4",
  state: "awaiting_confirmation",
  analyzers: ["scenes"],
  attempts: 0,
  max_attempts: 3,
  cancel_requested: false,
  dead_letter: false,
  priority: 0,
  progress: 0,
  progress_message: "",
  outcome: {},
  created_at: "2026-12-01T10:00:00Z",
  created_by: "api:ana",
  cost_actual: 0,
  error: null,
  started_at: null,
  finished_at: null,
  project: null,
  estimate: estimate(),
  ...over,
});

describe("money", () => {
  it("formats in the page's language and survives an unknown currency", () => {
    expect(formatMoney(1.5, "EUR", "en")).toBe("€1.50");
    expect(formatMoney(2, "CREDITS", "en")).toBe("2 CREDITS");
  });

  it("adds estimates of several media together", () => {
    const both = combineEstimates([estimate(), estimate({ amount: 0.75, duration_s: 50, confirmation_required: false })]);
    expect(both?.amount).toBe(2);
    expect(both?.duration_s).toBe(200);
    expect(both?.confirmation_required).toBe(true);
    expect(both?.warnings).toHaveLength(1);
    expect(combineEstimates([])).toBeNull();
  });
});

describe("JobCost", () => {
  it("shows the estimate of a waiting job and confirms it", async () => {
    const posted: string[] = [];
    let decided: Job | null = null;
    const { user } = await renderWithApi(<JobCost job={job()} onDecided={(j) => (decided = j)} />, {
      username: "ana",
      routes: (request, path) => {
        if (request.method !== "POST") return null;
        posted.push(path);
        return json(200, job({ state: "queued", confirmed_by: "api:ana" }));
      },
    });
    const shown = screen.getByTestId("estimate");
    expect(shown).toHaveTextContent("Duration: 2 min 30 s");
    expect(shown).toHaveTextContent("Device: runpod:A100");
    expect(shown).toHaveTextContent("Cost: €1.25");
    expect(within(shown).getByRole("note")).toHaveTextContent("soft limit 5 EUR reached");
    expect(shown).toHaveTextContent("runpod · A100 · 80 GB · €1.80/h → €1.25 · EU");
    await user.click(await screen.findByRole("button", { name: "Confirm and start" }));
    await waitFor(() => expect(posted).toEqual(["/api/v1/jobs/job_1/confirm"]));
    await waitFor(() => expect(decided).not.toBeNull());
  });

  it("says why a confirmation was refused (over a hard budget)", async () => {
    const { user } = await renderWithApi(<JobCost job={job()} />, {
      username: "ana",
      routes: () => json(402, { error: { code: "over_budget", message: "project harbour would pass its hard limit" } }),
    });
    await user.click(await screen.findByRole("button", { name: "Reject" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Refused: project harbour would pass its hard limit");
  });

  it("compares estimate and actual once the job ran, without buttons", async () => {
    await renderWithApi(<JobCost job={job({ state: "succeeded", cost_actual: 1.1 })} />, { username: "vera" });
    expect(screen.getByTestId("estimate-vs-actual")).toHaveTextContent("Estimated €1.25 · actual €1.10");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("shows a viewer a waiting job's estimate but no buttons", async () => {
    await renderWithApi(<JobCost job={job()} />, { username: "vera" });
    await screen.findByTestId("estimate");
    await waitFor(() => expect(screen.queryByRole("button", { name: "Confirm and start" })).toBeNull());
  });
});

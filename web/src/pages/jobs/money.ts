// Money and estimates for people: amounts in the page's language and currency.
import type { components } from "../../api";

export type Estimate = components["schemas"]["EstimateOut"];
export type Job = components["schemas"]["JobOut"];

/** 1.5, "EUR", "de" -> "1,50 €"; an unknown currency code is written after the number. */
export function formatMoney(amount: number, currency: string, language: string): string {
  try {
    return new Intl.NumberFormat(language, { style: "currency", currency, maximumFractionDigits: 4 }).format(amount);
  } catch {
    return `${amount.toLocaleString(language, { maximumFractionDigits: 4 })} ${currency}`.trim();
  }
}

/** Several media planned at once: one estimate (sums; the first plan's device and currency). */
export function combineEstimates(estimates: readonly Estimate[]): Estimate | null {
  const [first] = estimates;
  if (!first) return null;
  const warnings = [...new Set(estimates.flatMap((e) => e.warnings))];
  return {
    ...first,
    amount: estimates.reduce((sum, e) => sum + e.amount, 0),
    duration_s: estimates.reduce((sum, e) => sum + e.duration_s, 0),
    confirmation_required: estimates.some((e) => e.confirmation_required),
    warnings,
  };
}

/** Jobs whose estimate needs a person's yes before anything is spent. */
export const awaitingConfirmation = (state: string) => state === "awaiting_confirmation";

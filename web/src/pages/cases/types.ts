// Shapes and helpers shared by the case pages, the case picker and the "needs a case" prompt.
import type { components } from "../../api";

export type CaseOut = components["schemas"]["CaseOut"];
export type LegalBasis = components["schemas"]["CaseIn"]["legal_basis"];

/** The lawful bases the API accepts (GDPR art. 6(1) and the law-enforcement directive). */
export const LEGAL_BASES: readonly LegalBasis[] = [
  "consent",
  "legal_obligation",
  "vital_interests",
  "public_task",
  "legitimate_interests",
  "law_enforcement",
];

/** The API's minimum length of a justification. */
export const MIN_JUSTIFICATION = 10;

export const CASES_KEY = ["get", "/api/v1/cases"] as const;

export function isLegalBasis(value: string): value is LegalBasis {
  return (LEGAL_BASES as readonly string[]).includes(value);
}

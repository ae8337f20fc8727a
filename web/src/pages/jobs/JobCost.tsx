// One job's money: while it waits, the estimate with Confirm / Reject; afterwards estimate vs actual.
import { Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useMe } from "../../api";
import { ConfirmJob } from "./ConfirmJob";
import { EstimateView } from "./EstimateView";
import { awaitingConfirmation, formatMoney, type Job } from "./money";

export function JobCost({ job, onDecided }: { job: Job; onDecided?: (job: Job) => void }) {
  const { t, i18n } = useTranslation();
  const { can } = useMe();
  const estimate = job.estimate ?? null;
  if (awaitingConfirmation(job.state)) {
    return (
      <>
        {estimate ? <EstimateView estimate={estimate} /> : null}
        {can("jobs:manage") ? <ConfirmJob jobId={job.id} onDecided={onDecided} /> : null}
      </>
    );
  }
  if (!estimate && !job.cost_actual) return null;
  const currency = estimate?.currency ?? "";
  return (
    <Text size="xs" c="dimmed" data-testid="estimate-vs-actual">
      {t("cost.estimateVsActual", {
        estimate: estimate ? formatMoney(estimate.amount, currency, i18n.language) : "–",
        actual: formatMoney(job.cost_actual ?? 0, currency, i18n.language),
      })}
    </Text>
  );
}

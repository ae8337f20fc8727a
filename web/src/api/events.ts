// Server-Sent Events from the API. Today: GET /api/v1/jobs/{id}/events with ?access_token=
// (EventSource cannot send headers); the session decides how the URL carries credentials.
import type { Session } from "./session";

export interface JobProgress {
  id: string;
  state: string;
  progress: number;
  message: string | null;
  error: string | null;
}

export interface JobEnd {
  id: string;
  state: string;
}

export interface JobEventHandlers {
  onProgress(event: JobProgress): void;
  onEnd?(event: JobEnd): void;
  onError?(): void;
}

/** Follows one job's progress until it ends; returns a function that stops following. */
export function followJob(
  session: Session,
  jobId: string,
  handlers: JobEventHandlers,
  makeSource: (url: string) => EventSource = (url) => new EventSource(url),
): () => void {
  const source = makeSource(session.sseUrl(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`));
  source.addEventListener("progress", (event) => {
    handlers.onProgress(JSON.parse((event as MessageEvent<string>).data) as JobProgress);
  });
  source.addEventListener("end", (event) => {
    handlers.onEnd?.(JSON.parse((event as MessageEvent<string>).data) as JobEnd);
    source.close();
  });
  source.onerror = () => {
    // EventSource reconnects by itself; report it (e.g. expired token) and let the caller decide
    handlers.onError?.();
  };
  return () => source.close();
}

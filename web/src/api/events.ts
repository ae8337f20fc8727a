// Server-Sent Events from the API: GET /api/v1/jobs/{id}/events on the same origin, so the
// session cookie goes along (nothing in the URL). Every `progress` event is a full snapshot of
// the job, so a reconnect (the browser retries by itself and sends Last-Event-ID when the server
// set ids) loses nothing. When the server refuses the stream (e.g. the access cookie expired),
// EventSource gives up; followJob then renews the session once and opens a new stream.
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

/** open: events flow; reconnecting: the connection dropped and is being retried; closed: given up. */
export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

export interface JobEventHandlers {
  onProgress(event: JobProgress): void;
  onEnd?(event: JobEnd): void;
  /** The stream could not be (re)established: the caller may fall back to polling. */
  onError?(): void;
  onConnection?(state: StreamState): void;
}

export type SourceFactory = (url: string) => EventSource;

export interface FollowOptions {
  makeSource?: SourceFactory;
  /** Fresh streams opened after the browser gave up, before reporting an error (default 3). */
  maxReopens?: number;
  /** Delay before reopening, per attempt (default 1 s × attempt). */
  reopenDelayMs?: (attempt: number) => number;
}

const CONNECTING = 0;
const CLOSED = 2;

const defaultSource: SourceFactory = (url) => new EventSource(url, { withCredentials: true });

/** Follows one job's progress until it ends; returns a function that stops following. */
export function followJob(
  session: Session,
  jobId: string,
  handlers: JobEventHandlers,
  options: FollowOptions | SourceFactory = {},
): () => void {
  const opts: FollowOptions = typeof options === "function" ? { makeSource: options } : options;
  const makeSource = opts.makeSource ?? defaultSource;
  const maxReopens = opts.maxReopens ?? 3;
  const delay = opts.reopenDelayMs ?? ((attempt: number) => attempt * 1000);
  const url = session.sseUrl(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
  let source: EventSource | null = null;
  let stopped = false;
  let reopens = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const report = (state: StreamState) => handlers.onConnection?.(state);

  function stop(): void {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  }

  function open(): void {
    if (stopped) return;
    const current = makeSource(url);
    source = current;
    current.addEventListener("open", () => {
      reopens = 0;
      report("open");
    });
    current.addEventListener("progress", (event) => {
      handlers.onProgress(JSON.parse((event as MessageEvent<string>).data) as JobProgress);
    });
    current.addEventListener("end", (event) => {
      handlers.onEnd?.(JSON.parse((event as MessageEvent<string>).data) as JobEnd);
      stop();
      report("closed");
    });
    current.addEventListener("error", () => {
      if (stopped || current !== source) return;
      if (current.readyState === CONNECTING) {
        report("reconnecting"); // the browser retries by itself
        return;
      }
      if (current.readyState !== CLOSED) return;
      // refused (401 after the access cookie expired, 5xx from a proxy, ...): renew and reopen
      current.close();
      if (reopens >= maxReopens) {
        report("closed");
        handlers.onError?.();
        return;
      }
      reopens += 1;
      report("reconnecting");
      const attempt = reopens;
      void session.refresh().then((renewed) => {
        if (stopped) return;
        if (!renewed && session.state() !== "authenticated") {
          report("closed");
          handlers.onError?.();
          return;
        }
        timer = setTimeout(open, delay(attempt));
      });
    });
  }

  report("connecting");
  open();
  return stop;
}

// One XMLHttpRequest per file (POST /api/v1/media), so each file reports its own upload progress.
// The session adds its credentials (CSRF header; the cookie goes by itself) and renews them once.
import type { components, Session } from "../../api";

type UploadOut = components["schemas"]["UploadOut"];

export type Outcome =
  | { status: "created" | "duplicate"; mediaId: string; jobId: string | null }
  | { status: "rejected" | "failed"; reason: string };

interface Reply {
  status: number;
  body: unknown;
}

function post(session: Session, url: string, form: FormData, onProgress: (fraction: number) => void): Promise<Reply> {
  const headers = session.authorize(new Request(url, { method: "POST" })).headers;
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.withCredentials = true;
    headers.forEach((value, key) => xhr.setRequestHeader(key, value));
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = xhr.responseText;
      }
      resolve({ status: xhr.status, body });
    });
    const fail = () => resolve({ status: 0, body: null });
    xhr.addEventListener("error", fail);
    xhr.addEventListener("abort", fail);
    xhr.send(form);
  });
}

function messageOf(body: unknown, status: number): string {
  if (typeof body === "object" && body !== null && "error" in body) {
    const error = (body as { error?: { message?: unknown; code?: unknown } }).error;
    if (typeof error?.message === "string") return error.message;
    if (typeof error?.code === "string") return error.code;
  }
  return status === 0 ? "network error" : `HTTP ${status}`;
}

export async function sendFile(
  session: Session,
  file: File,
  name: string,
  onProgress: (fraction: number) => void,
): Promise<Outcome> {
  const url = session.sseUrl("/api/v1/media"); // same-origin URL, nothing added
  const form = () => {
    const data = new FormData();
    data.append("files", file, name);
    data.append("analyze", "false"); // the plan comes first; the user starts the analysis
    return data;
  };
  let reply = await post(session, url, form(), onProgress);
  if (reply.status === 401) {
    if (await session.refresh()) reply = await post(session, url, form(), onProgress);
    if (reply.status === 401) session.expire();
  }
  const files = (reply.body as Partial<UploadOut> | null)?.files;
  const first = Array.isArray(files) ? files[0] : undefined;
  if (!first) return { status: "failed", reason: messageOf(reply.body, reply.status) };
  if ((first.status === "created" || first.status === "duplicate") && first.media_id) {
    return { status: first.status, mediaId: first.media_id, jobId: first.job_id ?? null };
  }
  return { status: "rejected", reason: messageOf({ error: first.error }, reply.status) };
}

// Every correction goes through `useCorrection()`: it runs the call, refreshes what shows persons
// and announces the result with an Undo button (POST /persons/corrections/{id}/undo).
import { Button, Notification, Portal, Stack } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useApi } from "../../api";

export interface Corrected {
  correction_id: string;
  person_id: string | null;
  new_person_id?: string | null;
}

type Outcome<T> = { data?: T; error?: unknown; response: Response };

interface Toast {
  key: number;
  message: string;
  correctionId: string | null;
  error: boolean;
}

interface CorrectionsApi {
  run: (message: string, call: () => Promise<Outcome<Corrected>>) => Promise<Corrected | null>;
  undo: (correctionId: string) => Promise<boolean>;
}

const Ctx = createContext<CorrectionsApi | null>(null);
let nextKey = 1;

export function errorMessage(error: unknown, fallback: string): string {
  const body = error as { error?: { message?: string } } | undefined;
  return body?.error?.message ?? fallback;
}

export function CorrectionsProvider({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const { client } = useApi();
  const queryClient = useQueryClient();
  const [toasts, setToasts] = useState<Toast[]>([]);

  const push = useCallback((toast: Omit<Toast, "key">) => {
    setToasts((all) => [...all.slice(-2), { ...toast, key: nextKey++ }]);
  }, []);
  const refresh = useCallback(
    () =>
      queryClient.invalidateQueries({
        predicate: (q) => String(q.queryKey[1] ?? "").startsWith("/api/v1/persons"),
      }),
    [queryClient],
  );

  const undo = useCallback(
    async (correctionId: string) => {
      const { error } = await client.POST("/api/v1/persons/corrections/{correction_id}/undo", {
        params: { path: { correction_id: correctionId } },
      });
      await refresh();
      if (error) push({ message: errorMessage(error, t("people.failed")), correctionId: null, error: true });
      else push({ message: t("people.undone"), correctionId: null, error: false });
      return !error;
    },
    [client, push, refresh, t],
  );

  const run = useCallback(
    async (message: string, call: () => Promise<Outcome<Corrected>>) => {
      const { data, error } = await call();
      await refresh();
      if (!data) {
        push({ message: errorMessage(error, t("people.failed")), correctionId: null, error: true });
        return null;
      }
      push({ message, correctionId: data.correction_id, error: false });
      return data;
    },
    [push, refresh, t],
  );

  const value = useMemo(() => ({ run, undo }), [run, undo]);
  const close = (key: number) => setToasts((all) => all.filter((x) => x.key !== key));
  return (
    <Ctx.Provider value={value}>
      {children}
      <Portal>
        <Stack
          gap="xs"
          role="status"
          aria-live="polite"
          style={{ position: "fixed", bottom: 16, right: 16, left: 16, maxWidth: 420, marginLeft: "auto", zIndex: 400 }}
        >
          {toasts.map((toast) => (
            <Notification
              key={toast.key}
              color={toast.error ? "red" : "teal"}
              withBorder
              closeButtonProps={{ "aria-label": t("people.dismiss") }}
              onClose={() => close(toast.key)}
            >
              {toast.message}
              {toast.correctionId ? (
                <Button
                  size="compact-sm"
                  variant="light"
                  ml="sm"
                  onClick={() => {
                    close(toast.key);
                    void undo(toast.correctionId ?? "");
                  }}
                >
                  {t("people.undo")}
                </Button>
              ) : null}
            </Notification>
          ))}
        </Stack>
      </Portal>
    </Ctx.Provider>
  );
}

export function useCorrections(): CorrectionsApi {
  const api = useContext(Ctx);
  if (!api) throw new Error("useCorrections() outside <CorrectionsProvider>");
  return api;
}

// Renders a media-view component with the providers it needs (Mantine, i18n in English).
import { MantineProvider } from "@mantine/core";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { I18nextProvider } from "react-i18next";
import { createI18n } from "../../i18n";

export function renderWithProviders(ui: ReactNode) {
  const i18n = createI18n("en");
  const wrapper = ({ children }: { children: ReactNode }) => (
    <I18nextProvider i18n={i18n}>
      <MantineProvider>{children}</MantineProvider>
    </I18nextProvider>
  );
  return render(ui, { wrapper });
}

/** A 2D context that records what would be drawn (jsdom has no canvas). */
export function fakeContext() {
  const calls = { fillRect: 0, fillText: 0 };
  const ctx = {
    fillStyle: "" as unknown,
    font: "",
    textBaseline: "alphabetic" as CanvasTextBaseline,
    globalAlpha: 1,
    clearRect: () => undefined,
    fillRect: () => {
      calls.fillRect += 1;
    },
    fillText: () => {
      calls.fillText += 1;
    },
    save: () => undefined,
    restore: () => undefined,
    beginPath: () => undefined,
    rect: () => undefined,
    clip: () => undefined,
    setTransform: () => undefined,
    measureText: () => ({ width: 10 }) as TextMetrics,
  };
  return { ctx, calls };
}

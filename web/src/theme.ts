import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  // shade 8 (light) keeps white button text above WCAG AA contrast (4.5:1)
  primaryShade: { light: 8, dark: 7 },
  // a visible focus ring on every focusable Mantine element when navigating by keyboard
  focusRing: "auto",
  defaultRadius: "sm",
});

// A table that scrolls sideways inside its own box on narrow screens (the page never does);
// the box is a named, focusable region so keyboard users can scroll it too.
import { Table } from "@mantine/core";
import type { ReactNode } from "react";

export function ScrollTable({ label, minWidth, children }: { label: string; minWidth: number; children: ReactNode }) {
  return (
    <Table.ScrollContainer minWidth={minWidth} type="native" tabIndex={0} role="group" aria-label={label}>
      <Table striped highlightOnHover verticalSpacing="xs" aria-label={label}>
        {children}
      </Table>
    </Table.ScrollContainer>
  );
}

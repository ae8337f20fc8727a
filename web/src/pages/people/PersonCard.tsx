// One person in the gallery: crop, name (rename inline), counts; drag it onto another card to
// merge, or use the keyboard-operable "Merge into…" menu.
import { Avatar, Badge, Button, Card, Group, Menu, Stack, Text } from "@mantine/core";
import { type DragEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useApi } from "../../api";
import { useCorrections } from "./corrections";
import { RenameInline } from "./RenameInline";
import { firstCrop, type PersonSummary, personLabel, seconds } from "./types";

const DRAG_TYPE = "application/x-aima-person";

export function PersonCard({
  person,
  others,
  canManage,
}: {
  person: PersonSummary;
  others: PersonSummary[];
  canManage: boolean;
}) {
  const { t } = useTranslation();
  const { client } = useApi();
  const { run } = useCorrections();
  const [over, setOver] = useState(false);
  const label = personLabel(t, person.id, person.name);
  const crop = firstCrop(person);

  const merge = (sourceId: string, targetId: string, targetLabel: string) =>
    run(t("people.merged", { target: targetLabel }), () =>
      client.POST("/api/v1/persons/{person_id}/merge", {
        params: { path: { person_id: targetId } },
        body: { persons: [sourceId] },
      }),
    );

  const dnd = canManage
    ? {
        draggable: true,
        onDragStart: (e: DragEvent) => {
          e.dataTransfer.setData(DRAG_TYPE, person.id);
          e.dataTransfer.effectAllowed = "move";
        },
        onDragOver: (e: DragEvent) => {
          if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
          e.preventDefault();
          setOver(true);
        },
        onDragLeave: () => setOver(false),
        onDrop: (e: DragEvent) => {
          e.preventDefault();
          setOver(false);
          const source = e.dataTransfer.getData(DRAG_TYPE);
          if (source && source !== person.id) void merge(source, person.id, label);
        },
      }
    : {};

  return (
    <Card
      withBorder
      padding="sm"
      data-person-id={person.id}
      aria-label={label}
      component="article"
      style={over ? { outline: "3px dashed var(--mantine-color-blue-6)" } : undefined}
      {...dnd}
    >
      <Group wrap="nowrap" align="flex-start">
        <Avatar src={crop} alt={crop ? t("people.cropOf", { name: label }) : undefined} size={72} radius="sm">
          ?
        </Avatar>
        <Stack gap={4} style={{ minWidth: 0, flex: 1 }}>
          <RenameInline
            personId={person.id}
            name={person.name}
            canEdit={canManage}
            label={
              <Text component={Link} to={`/people/${person.id}`} fw={600} truncate c="blue.8">
                {label}
              </Text>
            }
          />
          <Text size="sm" c="dimmed">
            {t("people.inMedia", { count: person.media })}
          </Text>
          <Group gap={4}>
            {person.faces ? <Badge variant="light">{t("people.faces", { count: person.faces })}</Badge> : null}
            {person.voices ? (
              <Badge variant="light" color="grape">
                {t("people.voices", { count: person.voices })}
              </Badge>
            ) : null}
          </Group>
          <Text size="xs" c="dimmed">
            {t("people.onScreen", { time: seconds(person.on_screen_s) })}
            {person.speaking_s ? ` · ${t("people.speaking", { time: seconds(person.speaking_s) })}` : ""}
          </Text>
          {canManage && others.length ? (
            <Menu position="bottom-start" withinPortal>
              <Menu.Target>
                <Button size="compact-xs" variant="default" w="fit-content">
                  {t("people.mergeInto")}
                </Button>
              </Menu.Target>
              <Menu.Dropdown mah={320} style={{ overflowY: "auto" }}>
                <Menu.Label>{t("people.mergeIntoLabel", { name: label })}</Menu.Label>
                {others.map((o) => {
                  const target = personLabel(t, o.id, o.name);
                  return (
                    <Menu.Item key={o.id} onClick={() => void merge(person.id, o.id, target)}>
                      {target}
                    </Menu.Item>
                  );
                })}
              </Menu.Dropdown>
            </Menu>
          ) : null}
        </Stack>
      </Group>
    </Card>
  );
}

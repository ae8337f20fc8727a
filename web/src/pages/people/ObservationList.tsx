// The person's observations: pick some, then split them off or say "not this person".
import { Avatar, Button, Checkbox, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { useApi } from "../../api";
import { useCorrections } from "./corrections";
import { artifactUrl, mediaLink, type Observation, seconds } from "./types";

export function ObservationList({
  personId,
  observations,
  canManage,
}: {
  personId: string;
  observations: Observation[];
  canManage: boolean;
}) {
  const { t } = useTranslation();
  const { client } = useApi();
  const { run } = useCorrections();
  const navigate = useNavigate();
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const ids = observations.filter((o) => picked.has(o.id)).map((o) => o.id);

  const toggle = (id: number) =>
    setPicked((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const split = async () => {
    const done = await run(t("people.splitDone", { count: ids.length }), () =>
      client.POST("/api/v1/persons/{person_id}/split", {
        params: { path: { person_id: personId } },
        body: { observations: ids },
      }),
    );
    setPicked(new Set());
    if (done?.new_person_id && ids.length === observations.length) navigate(`/people/${done.new_person_id}`);
  };
  const reject = async () => {
    await run(t("people.rejectDone", { count: ids.length }), () =>
      client.POST("/api/v1/persons/{person_id}/reject", {
        params: { path: { person_id: personId } },
        body: { observations: ids },
      }),
    );
    setPicked(new Set());
  };

  return (
    <Stack gap="xs" component="section" aria-labelledby="obs-title">
      <Title order={3} id="obs-title">
        {t("people.observations")}
      </Title>
      {canManage ? (
        <Group gap="xs">
          <Button size="compact-sm" disabled={!ids.length} onClick={() => void split()}>
            {t("people.split", { count: ids.length })}
          </Button>
          <Button size="compact-sm" variant="default" disabled={!ids.length} onClick={() => void reject()}>
            {t("people.notThisPerson", { count: ids.length })}
          </Button>
        </Group>
      ) : null}
      <Table.ScrollContainer minWidth={360}>
        <Table verticalSpacing={4}>
          <Table.Thead>
            <Table.Tr>
              {canManage ? <Table.Th>{t("people.pick")}</Table.Th> : null}
              <Table.Th>{t("people.kind")}</Table.Th>
              <Table.Th>{t("people.media")}</Table.Th>
              <Table.Th>{t("people.duration")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {observations.map((o) => (
              <Table.Tr key={o.id}>
                {canManage ? (
                  <Table.Td>
                    <Checkbox
                      aria-label={t("people.pickObservation", { id: o.id })}
                      checked={picked.has(o.id)}
                      onChange={() => toggle(o.id)}
                    />
                  </Table.Td>
                ) : null}
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    {o.crop ? <Avatar src={artifactUrl(o.media_id, o.crop)} alt="" size={32} radius="sm" /> : null}
                    <Text size="sm">{o.kind === "face" ? t("people.face") : t("people.voice")}</Text>
                  </Group>
                </Table.Td>
                <Table.Td>
                  <Text component={Link} to={mediaLink(o.media_id, o.start)} size="sm" c="blue.8">
                    {t("people.openAt", { time: seconds(o.start) })}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{seconds(o.duration_s)}</Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

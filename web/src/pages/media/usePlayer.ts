// The player's clock for the whole view: the <video>/<audio> element, its current time (per
// animation frame while playing, so the playhead and highlights move smoothly) and seek().
import { useCallback, useEffect, useRef, useState } from "react";

export interface Player {
  ref: (el: HTMLMediaElement | null) => void;
  time: number;
  playing: boolean;
  seek: (t: number) => void;
}

export function usePlayer(initialTime: number): Player {
  const [element, setElement] = useState<HTMLMediaElement | null>(null);
  const [time, setTime] = useState(initialTime);
  const [playing, setPlaying] = useState(false);
  const pending = useRef<number | null>(initialTime > 0 ? initialTime : null);

  const ref = useCallback((el: HTMLMediaElement | null) => setElement(el), []);

  useEffect(() => {
    if (!element) return;
    let frame = 0;
    const read = () => setTime(element.currentTime);
    const tick = () => {
      read();
      frame = requestAnimationFrame(tick);
    };
    const onPlay = () => {
      setPlaying(true);
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(tick);
    };
    const onStop = () => {
      setPlaying(false);
      cancelAnimationFrame(frame);
      read();
    };
    const onMeta = () => {
      if (pending.current !== null) {
        element.currentTime = pending.current;
        pending.current = null;
      }
      read();
    };
    element.addEventListener("play", onPlay);
    element.addEventListener("pause", onStop);
    element.addEventListener("ended", onStop);
    element.addEventListener("seeked", read);
    element.addEventListener("timeupdate", read);
    element.addEventListener("loadedmetadata", onMeta);
    if (element.readyState >= 1) onMeta();
    return () => {
      cancelAnimationFrame(frame);
      element.removeEventListener("play", onPlay);
      element.removeEventListener("pause", onStop);
      element.removeEventListener("ended", onStop);
      element.removeEventListener("seeked", read);
      element.removeEventListener("timeupdate", read);
      element.removeEventListener("loadedmetadata", onMeta);
    };
  }, [element]);

  const seek = useCallback(
    (t: number) => {
      const target = Math.max(0, t);
      setTime(target);
      if (!element) return;
      if (element.readyState >= 1) element.currentTime = target;
      else pending.current = target;
    },
    [element],
  );

  return { ref, time, playing, seek };
}

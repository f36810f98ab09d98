// The full-screen verdict of the Scan and Check-in screens (web/templates/station/_verdict.html):
// a saturated colour, an icon and one word a clerk reads from across the counter, then what to
// hand over (the campaign's title and value), to whom, and the uses left. A tone and a buzz per
// colour, unless the tablet is muted. It goes back by itself — 3 s after green, 6 s after amber
// or red, which need reading — unless the clerk touches it (or Undo), which holds it until Next.
//
// Painting comes first: the text is set in one pass with no layout read, and the sound and the
// vibration are started in a later task, so they never delay the scan → verdict time.
import { _ } from "./i18n.js";
import { $, isMuted } from "./station-app.js";

export const RETURN_MS = { green: 3000, amber: 6000, red: 6000 };

/** The one word of each colour, shown large beside its icon. */
export function colorWord(color) {
  if (color === "green") return _("Accepted");
  if (color === "amber") return _("Check");
  return _("Refused");
}

// Each colour its own tune, told apart without looking: green rises, amber repeats, red buzzes low.
// [frequency in Hz, start and length in seconds]
const TONES = {
  green: {
    wave: "sine",
    notes: [
      [880, 0, 0.1],
      [1320, 0.1, 0.16],
    ],
  },
  amber: {
    wave: "triangle",
    notes: [
      [620, 0, 0.14],
      [620, 0.22, 0.14],
    ],
  },
  red: {
    wave: "square",
    notes: [
      [200, 0, 0.22],
      [160, 0.26, 0.3],
    ],
  },
};
// Milliseconds on, off, on: one tap for green, two for amber, two long ones for red.
const VIBRATIONS = { green: [60], amber: [90, 80, 90], red: [280, 120, 280] };

let audio = null;

function audioContext() {
  if (audio) return audio;
  const Context = window.AudioContext ?? window.webkitAudioContext;
  if (!Context) return null;
  audio = new Context();
  return audio;
}

// Browsers start audio only after a gesture on the page: the clerk's first touch opens it, so
// a verdict from the camera (no gesture of its own) can still sound.
function unlockAudioOnFirstTouch() {
  const unlock = () => {
    const context = audioContext();
    if (context?.state === "suspended") context.resume().catch(() => {});
  };
  document.addEventListener("pointerdown", unlock, { once: true, capture: true });
  document.addEventListener("keydown", unlock, { once: true, capture: true });
}

function play(color) {
  const tone = TONES[color];
  const context = audioContext();
  if (!tone || !context) return;
  if (context.state === "suspended") context.resume().catch(() => {});
  const start = context.currentTime + 0.01;
  for (const [frequency, at, length] of tone.notes) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = tone.wave;
    oscillator.frequency.value = frequency;
    // A short ramp in and out: no click at either end.
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(0.25, start + at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + length);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + at);
    oscillator.stop(start + at + length + 0.02);
  }
}

/** The tone and the buzz of a colour, unless the tablet is muted. Never throws. */
export function signal(color) {
  if (isMuted()) return;
  try {
    navigator.vibrate?.(VIBRATIONS[color] ?? []);
  } catch {
    // no vibration motor, or not allowed yet: the colour and the tone still tell
  }
  try {
    play(color);
  } catch (error) {
    console.warn("PopPass: no verdict sound", error);
  }
}

/**
 * The verdict screen of this page. `backTo(seconds)`: the words of the countdown ("Back to
 * scanning in 3 s"). `onClose()`: called whenever the screen goes away, by itself or by Next.
 * Returns {show(view), close(), hold(), isOpen()}. A view is {color, title, what, campaign,
 * value, name, detail, uses, conflicts, kind, reason, decidedBy}: every text may be empty.
 */
export function verdictScreen({ backTo, onClose = () => {} }) {
  const screen = $("verdict");
  const bar = $("verdict-countdown-bar");
  const countdown = $("verdict-countdown-text");
  let timer = null;
  let ticker = null;
  let progress = null;

  const stopClock = () => {
    clearTimeout(timer);
    clearInterval(ticker);
    timer = ticker = null;
  };

  const close = () => {
    if (screen.hidden) return;
    stopClock();
    progress?.cancel();
    progress = null;
    screen.hidden = true;
    // A later verdict's attributes never meet a stale value (tests and screen readers alike).
    screen.dataset.color = "";
    screen.dataset.reason = "";
    screen.dataset.held = "false";
    onClose();
  };

  const hold = () => {
    if (screen.hidden || screen.dataset.held === "true") return;
    stopClock();
    progress?.pause();
    screen.dataset.held = "true";
    countdown.textContent = _("Held: tap Next when you are done.");
  };

  const startClock = (ms) => {
    stopClock();
    progress?.cancel();
    const ends = performance.now() + ms;
    const tell = () => {
      countdown.textContent = backTo(Math.max(1, Math.ceil((ends - performance.now()) / 1000)));
    };
    tell();
    ticker = setInterval(tell, 1000);
    timer = setTimeout(close, ms);
    // The compositor draws the shrinking bar: no style change per frame from here.
    progress =
      bar.animate?.([{ transform: "scaleX(1)" }, { transform: "scaleX(0)" }], {
        duration: ms,
        easing: "linear",
        fill: "forwards",
      }) ?? null;
  };

  const setText = (id, text) => {
    $(id).textContent = text ?? "";
  };

  const show = (view) => {
    screen.dataset.color = view.color;
    screen.dataset.reason = view.reason ?? "";
    screen.dataset.kind = view.kind ?? "";
    screen.dataset.decidedBy = view.decidedBy ?? "device";
    screen.dataset.held = "false";
    screen.dataset.signal = isMuted() ? "muted" : view.color;
    setText("verdict-title", view.title ?? colorWord(view.color));
    setText("verdict-what", view.what);
    setText("verdict-campaign", view.campaign);
    setText("verdict-value", view.value);
    $("verdict-handover").hidden = !view.campaign && !view.value;
    setText("verdict-name", view.name);
    setText("verdict-detail", view.detail);
    setText("verdict-uses", view.uses);
    setText("verdict-conflicts", view.conflicts);
    $("verdict-conflicts").hidden = !view.conflicts;
    screen.hidden = false;
    $("verdict-next").focus({ preventScroll: true });
    startClock(RETURN_MS[view.color] ?? RETURN_MS.red);
    setTimeout(() => signal(view.color), 0);
  };

  // Any touch on the verdict but Next holds it: the clerk is reading, or about to undo.
  screen.addEventListener("pointerdown", (event) => {
    if (!event.target.closest("#verdict-next")) hold();
  });
  screen.addEventListener("focusin", (event) => {
    if (event.target.closest("form, #verdict-undo")) hold();
  });
  $("verdict-next").addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  unlockAudioOnFirstTouch();
  return { show, close, hold, isOpen: () => !screen.hidden };
}

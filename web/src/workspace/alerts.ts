// How a pop gets the agent's attention: a ring (unless muted), a browser
// notification while the tab is hidden, and the title flashing until the
// agent looks.
const MUTED_KEY = "callpop.muted";

export function isMuted(): boolean {
  return localStorage.getItem(MUTED_KEY) === "1";
}

export function setMuted(muted: boolean): void {
  localStorage.setItem(MUTED_KEY, muted ? "1" : "0");
}

let audio: AudioContext | null = null;

/** Two short bursts of a 440+480 Hz ring (the Chinese and North American ring tone pair). */
export function ring(): void {
  if (isMuted()) return;
  try {
    audio ??= new AudioContext();
    const ctx = audio;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    for (const f of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start();
      osc.stop(ctx.currentTime + 1.2);
    }
    for (const [at, level] of [[0, 0.15], [0.4, 0], [0.6, 0.15], [1.0, 0]] as const) {
      gain.gain.setValueAtTime(level, ctx.currentTime + at);
    }
  } catch {
    // No audio (autoplay policy before any click): the title and the notification still tell.
  }
}

/** A notification when the tab is hidden; returns whether one was shown. */
export function notifyIfHidden(title: string, body: string, tag: string): boolean {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return false;
  const n = new Notification(title, { body, tag, requireInteraction: true });
  n.onclick = () => {
    window.focus();
    n.close();
  };
  return true;
}

let flashTimer: number | undefined;
let baseTitle = "";

/** Flashes `text` in the title until the page is visible and focused. */
export function flashTitle(text: string): void {
  if (flashTimer === undefined) baseTitle = document.title;
  window.clearInterval(flashTimer);
  let on = false;
  const stop = () => {
    window.clearInterval(flashTimer);
    flashTimer = undefined;
    document.title = baseTitle;
    window.removeEventListener("focus", stopIfSeen);
    document.removeEventListener("visibilitychange", stopIfSeen);
  };
  const stopIfSeen = () => {
    if (!document.hidden && document.hasFocus()) stop();
  };
  flashTimer = window.setInterval(() => {
    on = !on;
    document.title = on ? text : baseTitle;
    stopIfSeen();
  }, 800);
  document.title = text;
  window.addEventListener("focus", stopIfSeen);
  document.addEventListener("visibilitychange", stopIfSeen);
}

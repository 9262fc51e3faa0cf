// When a job the caller created ends: a browser notification (once permitted) and, if
// the caller turned it on, a short tone for a completion; a toast only for a failure or a
// cancellation (as analysts expect). The sound is off until turned on, and the choice is
// remembered in this browser (localStorage).

import { toast, typeName } from "./format.js";

const SOUND = "jobledger.sound";
const soundOn = () => localStorage.getItem(SOUND) === "on";

function offerSound() {
  const button = document.getElementById("sound");
  button.hidden = false;
  button.setAttribute("aria-pressed", String(soundOn()));
  button.addEventListener("click", () => {
    const on = !soundOn();
    localStorage.setItem(SOUND, on ? "on" : "off");
    button.setAttribute("aria-pressed", String(on));
    if (on) tone(); // heard now, from the click, so the browser lets it play later too
  });
}

export function offerNotifications() {
  offerSound();
  const button = document.getElementById("notify");
  if (!("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await Notification.requestPermission(); // asked once, from this click
    button.hidden = true;
  });
}

let audio = null; // one context for the page: made from the toggle's click when possible

function tone() {
  try {
    audio ??= new AudioContext();
    const oscillator = audio.createOscillator();
    oscillator.frequency.value = 880;
    oscillator.connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.15);
  } catch {
    // no audio device: the notification is enough
  }
}

/** Tell the caller that `job` (which they created) has just ended. */
export function announceEnd(job) {
  const name = `${typeName(job.type)} ${job.id.slice(0, 6)}`;
  if (job.status === "completed") {
    toast(`${name} completed`, "success");
    if ("Notification" in window && Notification.permission === "granted")
      new Notification("Job completed", { body: `${name}: ${job.cost.amount} ${job.cost.currency}`, tag: job.id });
    if (soundOn()) tone();
  } else if (job.status === "failed") {
    toast(`${name} failed: ${job.error ? job.error.message : ""}`, "failure");
  } else if (job.status === "cancelled") {
    toast(`${name} was cancelled`, "failure");
  }
}

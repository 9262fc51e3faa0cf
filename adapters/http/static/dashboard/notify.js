// When a job the caller created ends: a browser notification and a short tone for a
// completion, a toast only for a failure or a cancellation (as analysts expect).

import { toast, typeName } from "./format.js";

export function offerNotifications() {
  const button = document.getElementById("notify");
  if (!("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await Notification.requestPermission(); // asked once, from this click
    button.hidden = true;
  });
}

function tone() {
  try {
    const audio = new AudioContext();
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
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification("Job completed", { body: `${name}: ${job.cost.amount} ${job.cost.currency}`, tag: job.id });
      tone();
    }
  } else if (job.status === "failed") {
    toast(`${name} failed: ${job.error ? job.error.message : ""}`, "failure");
  } else if (job.status === "cancelled") {
    toast(`${name} was cancelled`, "failure");
  }
}

// Server-Sent Events read with fetch(): EventSource cannot send an Authorization header.
// A dropped stream is opened again with Last-Event-ID, so nothing is missed or repeated.

import { authorization, signOut, token } from "./session.js";

const RETRY_MS = 2000;

function parse(block) {
  const message = {};
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    message[name] = name === "data" && message.data ? `${message.data}\n${value}` : value;
  }
  return message;
}

/**
 * Follow `path` from log position `after` (null: from now). `onMessage` gets each
 * message's parsed data; `onState` hears "live" and "reconnecting".
 */
export function follow(path, { after = null, onMessage, onState = () => {} }) {
  let last = after;
  let stopped = false;
  let controller = null;

  async function once() {
    if (!token()) {
      stopped = true; // signed out, the page is leaving: a call now would only be refused
      return;
    }
    controller = new AbortController();
    const headers = { ...authorization(), Accept: "text/event-stream" };
    if (last !== null) headers["Last-Event-ID"] = String(last);
    const response = await fetch(path, { headers, signal: controller.signal, cache: "no-store" });
    if (response.status === 401) {
      const problem = await response.json().catch(() => ({}));
      stopped = true;
      signOut(problem.detail || "the token was refused");
      return;
    }
    if (!response.ok) throw new Error(`the stream answered ${response.status}`);
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (message.id !== undefined) last = Number(message.id);
        if (message.data) onMessage(JSON.parse(message.data));
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch {
        // a dropped connection or a restarting server: try again below
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();

  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}

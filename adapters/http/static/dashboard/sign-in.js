// The sign-in page: a token pasted here is kept for this tab's session only.

import { signIn } from "./session.js";

const query = new URLSearchParams(location.search);
const reason = query.get("reason");
if (reason) {
  const shown = document.getElementById("reason");
  shown.hidden = false;
  shown.textContent = `Signed out: ${reason}`;
}
const next = query.get("next") || "/jobs";
document.getElementById("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value);
  location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/jobs");
});

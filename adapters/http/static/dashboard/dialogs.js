// Modal dialogs that keep the keyboard inside: Tab and Shift+Tab wrap around the
// dialog's controls, Escape closes it (the browser's own <dialog> cancel), and focus
// goes back to the control that opened it.

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

function focusable(dialog) {
  return [...dialog.querySelectorAll(FOCUSABLE)].filter((node) => !node.closest("[hidden]") && node.getClientRects().length);
}

const prepared = new WeakSet();

/** Open `dialog` modally, trapping focus until it closes. */
export function openModal(dialog) {
  if (!prepared.has(dialog)) {
    prepared.add(dialog);
    dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const all = focusable(dialog);
      if (!all.length) return;
      const first = all[0];
      const last = all[all.length - 1];
      const inside = dialog.contains(document.activeElement);
      if (event.shiftKey && (document.activeElement === first || !inside)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
        event.preventDefault();
        first.focus();
      }
    });
  }
  const opener = document.activeElement;
  const back = () => (opener?.isConnected ? opener : opener?.id && document.getElementById(opener.id));
  dialog.addEventListener("close", () => back()?.focus?.(), { once: true }); // a row redrawn meanwhile: its new link
  dialog.showModal();
}

// Behaviour every page shares, kept out of the markup: the Content-Security-Policy allows
// no inline event handlers (onsubmit=, onfocus=), so these are listeners on the document.
//   <form data-confirm="Delete?">       asks before submitting
//   <input data-select-on-focus>        selects its text when focused (share links)
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
}, true);

document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) field.select();
});

// Scenario form: show the pane of the chosen input (paste, upload, Git); without this script
// every pane shows and the radio still decides which input is read.
const form = document.getElementById("scenario-form");
if (form) {
  document.documentElement.classList.add("js");
  const panes = form.querySelectorAll(".mode-pane");
  const show = () => {
    const chosen = form.querySelector('input[name="mode"]:checked')?.value || "paste";
    for (const pane of panes) pane.hidden = pane.dataset.mode !== chosen;
  };
  for (const radio of form.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", show);
  show();
}

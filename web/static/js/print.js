// The report's Print button: shown only when this script runs (CSP: no inline handlers).
const button = document.getElementById("print-report");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}

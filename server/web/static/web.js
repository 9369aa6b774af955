// Progressive enhancement only: every page works without this file.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});

// Progressive enhancement only: every page works without this file.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});
document.addEventListener("DOMContentLoaded", function () {
  // On a phone the tabs scroll sideways: bring the current one into view.
  document.querySelectorAll(".tabs").forEach(function (tabs) {
    var current = tabs.querySelector("[aria-current]");
    if (current && tabs.scrollWidth > tabs.clientWidth) tabs.scrollLeft = current.offsetLeft - tabs.offsetLeft - 8;
  });
});

// The dashboard's map, tapped (progressive enhancement: without this file a household's dot is a link to
// its own page). A tap picks the dot nearest the finger, fetches that household's card (who to ask for,
// their phone, what they still lack, a link to the submission) and shows it under the map.
(function () {
  var REACH = 40;   // CSS px around a dot that still counts as tapping it

  function nearest(svg, x, y) {
    var best = null, bestDistance = REACH * REACH;
    svg.querySelectorAll("a.hh circle.dot").forEach(function (dot) {
      var r = dot.getBoundingClientRect(), dx = r.left + r.width / 2 - x, dy = r.top + r.height / 2 - y;
      if (dx * dx + dy * dy <= bestDistance) { bestDistance = dx * dx + dy * dy; best = dot.closest("a"); }
    });
    return best;
  }

  function close(figure) {
    var popup = figure.querySelector(".map-popup");
    popup.hidden = true;
    figure.querySelectorAll("a.hh.picked").forEach(function (a) { a.classList.remove("picked"); });
  }

  function open(figure, link) {
    var popup = figure.querySelector(".map-popup"), body = popup.querySelector(".map-popup-body");
    var url = new URL(link.getAttribute("href"), document.baseURI);
    url.searchParams.set("part", "1");
    url.searchParams.set("targetSet", figure.getAttribute("data-target-set") || "");
    figure.querySelectorAll("a.hh.picked").forEach(function (a) { a.classList.remove("picked"); });
    link.classList.add("picked");
    body.textContent = figure.getAttribute("data-loading");
    popup.hidden = false;
    fetch(url.toString(), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (resp) { if (!resp.ok) throw new Error(resp.status); return resp.text(); })
      .then(function (html) { body.innerHTML = html; popup.focus({preventScroll: true}); popup.scrollIntoView({block: "nearest"}); })
      .catch(function () { body.textContent = figure.getAttribute("data-failed"); });
  }

  document.addEventListener("click", function (event) {
    var figure = event.target.closest && event.target.closest("figure.map");
    if (!figure) return;
    if (event.target.closest("[data-close]")) { close(figure); return; }
    var svg = event.target.closest("svg");
    if (!svg || !svg.querySelector("a.hh")) return;
    // A keyboard's Enter clicks the focused link itself; a finger or a mouse, the dot nearest it.
    var link = event.detail === 0 ? event.target.closest("a.hh") : nearest(svg, event.clientX, event.clientY);
    link = link || event.target.closest("a.hh");
    if (!link) return;
    event.preventDefault();
    open(figure, link);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("figure.map .map-popup:not([hidden])").forEach(function (popup) {
      close(popup.closest("figure.map"));
    });
  });
})();

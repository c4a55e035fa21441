// Span details of an inference page: a click (or a hover, or Enter on a focused mark) on a
// highlighted part of the output marks the spans covering it and their documents in the list
// below, and scrolls the first into view. The list is rendered by the server; this only
// toggles classes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const marks = document.querySelectorAll("mark.span");
  const details = document.querySelectorAll(".span-detail");
  const show = (mark, scroll) => {
    const ids = (mark.dataset.spans || "").split(" ").filter((id) => id !== "");
    marks.forEach((m) => m.classList.toggle("active", m === mark));
    details.forEach((d) => d.classList.toggle("active", ids.includes(d.dataset.span)));
    const first = document.getElementById("span-" + ids[0]);
    if (scroll && first) first.scrollIntoView({ block: "nearest" });
  };
  marks.forEach((mark) => {
    mark.addEventListener("click", () => show(mark, true));
    mark.addEventListener("mouseenter", () => show(mark, false));
    mark.addEventListener("keydown", (event) => {
      if (event.key === "Enter") show(mark, true);
    });
  });
});

// The course's search results (book/_ext/offline_site.py adds this to search.html only):
// - a page whose title names the query ranks first ("attention": chapter 5, not 11);
// - a result links to the first section whose own text has the query, and says which;
// - snippets are prose: no code, cell outputs or citation keys, and maths as plain
//   symbols (the page's TeX without its backslashes and braces).
"use strict";

const LMBOOK_NOT_PROSE = [
  ".headerlink", "script", "style", "mjx-container", ".cell_input",
  ".cell_output", ".highlight", "pre", ".citation", "nav", ".toctree-wrapper",
];

const lmbookQueryWords = () =>
  (new URLSearchParams(window.location.search).get("q") || "")
    .toLowerCase().split(/\s+/).filter((word) => word.length > 1);

const lmbookProse = (htmlString) => {
  const page = new DOMParser().parseFromString(htmlString, "text/html");
  for (const selector of LMBOOK_NOT_PROSE) {
    page.querySelectorAll(selector).forEach((element) => element.remove());
  }
  page.querySelectorAll(".math").forEach((element) => {
    element.textContent = element.textContent
      .replace(/\\[()[\]]/g, "")
      .replace(/\\[,;:! ]/g, " ")
      .replace(/\\([A-Za-z]+)/g, "$1")
      .replace(/[{}]/g, "");
  });
  return page.querySelector('[role="main"]');
};

const lmbookText = (element) => element.textContent.replace(/\s+/g, " ").trim();

const lmbookSnippet = (text, keywords) => {
  const lower = text.toLowerCase();
  const found = [...keywords].map((k) => lower.indexOf(k.toLowerCase())).filter((i) => i > -1);
  const start = Math.max((found.length ? Math.min(...found) : 0) - 100, 0);
  const summary = document.createElement("p");
  summary.classList.add("context");
  summary.textContent = (start ? "..." : "") + text.substr(start, 240).trim()
    + (start + 240 < text.length ? "..." : "");
  return summary;
};

const lmbookSearchSetup = () => {
  if (typeof Search === "undefined" || typeof Scorer === "undefined") return;
  Scorer.score = (result) => {
    const [, title, anchor, , score] = result;
    const pageTitle = title.split(" > ")[0].toLowerCase();
    const named = lmbookQueryWords().some((word) => pageTitle.includes(word));
    return score + (named && !anchor ? 30 : 0);
  };
  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const main = lmbookProse(htmlText);
    if (!main) return null;
    if (anchor) {
      const target = main.querySelector(anchor);
      return lmbookSnippet(lmbookText(target || main), keywords);
    }
    const words = [...keywords].map((k) => k.toLowerCase());
    const sections = [...main.querySelectorAll("section[id]")];
    for (const [index, section] of sections.entries()) {
      const own = section.cloneNode(true);  // its text without its subsections'
      own.querySelectorAll("section").forEach((sub) => sub.remove());
      const text = lmbookText(own);
      if (!words.some((word) => text.toLowerCase().includes(word))) continue;
      const summary = lmbookSnippet(text, keywords);
      const heading = section.querySelector("h1, h2, h3, h4");
      if (index > 0 && heading) {
        // Sphinx appends the snippet to the result's list item right after this returns.
        queueMicrotask(() => {
          const link = summary.parentElement && summary.parentElement.querySelector("a");
          if (link && !link.hash) {
            link.hash = section.id;
            link.append(` › ${lmbookText(heading)}`);
          }
        });
      }
      return summary;
    }
    return lmbookSnippet(lmbookText(main), keywords);
  };
};

// Before searchtools.js's own start-up, which runs the query of the address.
document.addEventListener("DOMContentLoaded", lmbookSearchSetup);

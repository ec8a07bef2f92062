// Typesets one page's formulas with MathJax 3 in Node.js, when the website is built, so
// that readers' browsers load no MathJax script (book/_ext/lean_pages.py runs this).
//
//   node typeset_maths.js MATHJAX_ES5_FOLDER FONT_URL < formulas.json > typeset.json
//
// formulas.json is a list of {"tex": "...", "display": true|false}. The answer is
// {"html": [one <mjx-container> per formula], "css": "the CHTML stylesheet"}: the
// stylesheet covers only the characters these formulas use, and its fonts are loaded
// from FONT_URL. Each formula keeps MathJax's hidden MathML for screen readers, as the
// browser-side MathJax of the site did (a11y/assistive-mml).
const [es5, fontURL] = process.argv.slice(2);
const formulas = JSON.parse(require("fs").readFileSync(0, "utf8"));

global.MathJax = {
  loader: {
    paths: { mathjax: es5 },
    require: require,
    load: ["adaptors/liteDOM", "input/tex", "output/chtml", "a11y/assistive-mml"],
  },
  chtml: { fontURL },
  startup: { typeset: false },
};
require(`${es5}/startup.js`);

MathJax.startup.promise
  .then(async () => {
    const adaptor = MathJax.startup.adaptor;
    const html = [];
    for (const { tex, display } of formulas) {
      // The Promise form loads the TeX extensions a formula needs (\boldsymbol, ...).
      const node = await MathJax.tex2chtmlPromise(tex, { display });
      const error = adaptor.tags(node, "mjx-merror")[0];
      if (error) {
        throw new Error(`TeX error in ${JSON.stringify(tex)}: ${adaptor.textContent(error)}`);
      }
      html.push(adaptor.outerHTML(node));
    }
    const css = adaptor.textContent(MathJax.chtmlStylesheet());
    process.stdout.write(JSON.stringify({ html, css }));
  })
  .catch((error) => {
    console.error(error.message || error);
    process.exit(1);
  });

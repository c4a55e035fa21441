// Opens the attribution explorer in headless Chromium (puppeteer-core over the system's
// `chromium`) and reports what the rendered pages show, as one JSON line on stdout, for the
// Rust test to compare with the chain. It also clicks a highlighted span (the script must mark
// its documents) and saves full-page screenshots into --out.
//
//   node tests/explorer/check.mjs --url http://127.0.0.1:5100 --request 0x.. --forged 0x..
//        --script-request 0x.. --contributor 0x.. --out DIR [--chromium /usr/bin/chromium]
import puppeteer from "puppeteer-core";
import { parseArgs } from "node:util";
import path from "node:path";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    request: { type: "string" },
    forged: { type: "string" },
    "script-request": { type: "string" },
    contributor: { type: "string" },
    out: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
  },
});
for (const name of ["url", "request", "forged", "script-request", "contributor", "out"]) {
  if (!args[name]) throw new Error(`--${name} is required`);
}

const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  // The tests run as root in CI containers, where Chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const report = { consoleErrors: [], dialogs: 0 };
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("dialog", async (dialog) => {
    report.dialogs += 1;
    await dialog.dismiss();
  });
  page.on("pageerror", (err) => report.consoleErrors.push(String(err)));
  const open = async (route) => {
    const response = await page.goto(args.url + route, { waitUntil: "networkidle0" });
    return response.status();
  };

  // The honest, settled request: spans, weights, paid shares, verdict; then a click.
  report.requestStatus = await open(`/request/${args.request}`);
  report.request = await page.evaluate(() => ({
    output: document.querySelector("#output")?.textContent ?? null,
    marks: [...document.querySelectorAll("#output mark.span")].map((m) => ({
      text: m.textContent,
      spans: m.dataset.spans,
    })),
    spans: [...document.querySelectorAll(".span-detail")].map((li) => ({
      span: Number(li.dataset.span),
      count: li.dataset.count,
      text: li.querySelector(".span-text")?.textContent ?? "",
      contributors: [...li.querySelectorAll("tr[data-contributor]")].map((tr) => tr.dataset.contributor),
    })),
    weights: [...document.querySelectorAll("table.weights tr[data-contributor]")].map((tr) => ({
      contributor: tr.dataset.contributor,
      weightPpm: Number(tr.dataset.weightPpm),
      paidWei: tr.dataset.paidWei ?? null,
    })),
    verification: document.querySelector("#verification")?.dataset.status ?? null,
    status: document.querySelector("#request-status")?.textContent ?? null,
  }));
  const first = await page.$("#output mark.span");
  if (first) {
    await first.click();
    report.afterClick = await page.evaluate(() => ({
      clicked: document.querySelector("#output mark.span.active")?.dataset.spans ?? null,
      active: [...document.querySelectorAll(".span-detail.active")].map((li) => li.dataset.span),
    }));
  }
  await page.screenshot({ path: path.join(args.out, "request.png"), fullPage: true });

  // The forged record's request: the verifier's verdict and the mismatching fields.
  report.forgedStatus = await open(`/request/${args.forged}`);
  report.forged = await page.evaluate(() => ({
    verification: document.querySelector("#verification")?.dataset.status ?? null,
    mismatches: [...document.querySelectorAll("table.mismatches tr[data-field]")].map((tr) => tr.dataset.field),
  }));

  // A prompt with markup renders as text: no element, no script run.
  report.scriptStatus = await open(`/request/${args["script-request"]}`);
  report.script = await page.evaluate(() => ({
    prompt: document.querySelector("#prompt")?.textContent ?? null,
    elements: document.querySelectorAll("#prompt *").length,
    scripts: document.querySelectorAll("script").length,
    title: document.title,
    pwned: window.pwned === true,
  }));
  await page.screenshot({ path: path.join(args.out, "script-prompt.png"), fullPage: true });

  // The contributor's page.
  report.contributorStatus = await open(`/contributor/${args.contributor}`);
  report.contributor = await page.evaluate(() => ({
    attributedPpm: document.querySelector("#attributed-weight")?.dataset.ppm ?? null,
    earnedWei: document.querySelector("#earned .amount")?.dataset.wei ?? null,
    approved: document.querySelector("#approved")?.textContent ?? null,
    earnings: [...document.querySelectorAll("table.earnings tr[data-request]")].map((tr) => ({
      request: tr.dataset.request,
      amount: tr.dataset.amount,
    })),
    contributions: document.querySelectorAll("table.contributions tr[data-contribution]").length,
  }));
  await page.screenshot({ path: path.join(args.out, "contributor.png"), fullPage: true });

  // The lists.
  report.homeStatus = await open("/");
  report.home = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("[data-count]")].map((e) => [e.dataset.count, e.textContent])),
  );
  await page.screenshot({ path: path.join(args.out, "home.png"), fullPage: true });
  report.requestsStatus = await open("/requests");
  report.requests = await page.evaluate(() =>
    [...document.querySelectorAll("table.requests tr[data-request]")].map((tr) => tr.dataset.request),
  );
  report.datanetStatus = await open("/datanet/1");
  report.datanet = await page.evaluate(() => ({
    curators: [...document.querySelectorAll("table.curators tr[data-curator]")].map((tr) => tr.dataset.curator),
    contributions: [...document.querySelectorAll("table.contributions tr[data-status]")].map((tr) => tr.dataset.status),
  }));
  report.modelsStatus = await open("/models");
  report.adapters = await page.evaluate(() =>
    [...document.querySelectorAll("table.adapters tr[data-adapter]")].map((tr) => ({
      adapter: tr.dataset.adapter,
      priceIn: tr.dataset.priceIn,
      priceOut: tr.dataset.priceOut,
    })),
  );
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));

// Drives the review console of a running registry in headless Chromium.
//
// Run by the acceptance test `console::the_console_in_a_real_browser`, which
// starts the registry with seeded data and passes it in CONSOLE_FIXTURE (JSON:
// url, tokens, ids, the client to revoke, the screenshot directory). Every
// check prints `ok - <what>`; the first failure prints `not ok - <what>` and
// exits non-zero. Screenshots of each page go to the fixture's directory.

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const fx = JSON.parse(process.env.CONSOLE_FIXTURE);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
mkdirSync(fx.screenshots, { recursive: true });

let failed = false;
function check(what, holds, detail = "") {
  if (holds) {
    console.log(`ok - ${what}`);
  } else {
    console.log(`not ok - ${what}${detail ? `: ${detail}` : ""}`);
    failed = true;
  }
  return holds;
}

/** One API call with a bearer token. */
async function api(token, method, path, body) {
  const r = await fetch(fx.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

async function introspect(client) {
  const r = await api(fx.admin, "POST", "/v1/introspect", {
    client_id: client.client_id, client_secret: client.client_secret,
  });
  return r.active === true;
}

/** A browser with a fresh profile of its own. */
async function browser() {
  const profile = mkdtempSync(join(tmpdir(), "console-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    page: context.pages()[0] || (await context.newPage()),
    async close() { await context.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

async function shot(page, name) {
  await page.screenshot({ path: join(fx.screenshots, `${name}.png`), fullPage: true });
}

async function signIn(page, token) {
  await page.goto(fx.url + "/ui/overview");
  check("an unsigned visit is sent to the sign-in page", page.url().endsWith("/ui/login"), page.url());
  await page.fill("#token", token);
  await Promise.all([page.waitForURL("**/ui/overview"), page.click("button[type=submit]")]);
}

const text = (page, selector) => page.locator(selector).first().innerText();

try {
  // ---------- a reviewer ----------
  const reviewer = await browser();
  const page = reviewer.page;
  await page.goto(fx.url + "/ui/login");
  await shot(page, "login");
  await signIn(page, fx.reviewer);
  check("signed in, the overview shows", (await text(page, "h1")) === "Overview");
  const cookies = await reviewer.context.cookies();
  const session = cookies.find((c) => c.name === "pr_session");
  check("the session cookie is HttpOnly and SameSite=Strict",
    session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(session));
  check("the session cookie expires", session && session.expires > Date.now() / 1000);
  const html = await page.content();
  const storage = await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]);
  check("the token is in neither the page, the URL nor the browser's storage",
    !html.includes(fx.reviewer) && !page.url().includes(fx.reviewer) &&
    storage[0] === "" && storage[1] === 0 && storage[2] === 0, JSON.stringify(storage));

  // The overview's numbers are the API's.
  const orgs = await api(fx.reviewer, "GET", "/v1/orgs?status=active&limit=1000");
  const clients = await api(fx.reviewer, "GET", "/v1/clients?status=active&limit=1000");
  const review = await api(fx.reviewer, "GET", "/v1/reviews");
  check("the overview counts the API's active orgs",
    Number(await text(page, "#count-orgs")) === orgs.items.length);
  check("the overview counts the API's active clients",
    Number(await text(page, "#count-clients")) === clients.items.length);
  const kinds = {};
  for (const f of review.findings) kinds[f.kind] = (kinds[f.kind] || 0) + 1;
  let same = true;
  for (const row of await page.locator("tr:has(code[id^=findings-])").all()) {
    const kind = (await row.locator("code").innerText()).trim();
    const n = Number((await row.locator("td").nth(1).innerText()).trim());
    same &&= n === (kinds[kind] || 0);
  }
  check("the overview's findings by kind are the review's", same && review.findings.length > 0, JSON.stringify(kinds));
  const overview = await page.locator("main").innerText();
  check("contracts ending in 90 days list the org whose contract ends soon", overview.includes(fx.ending_org_name));
  check("clients unused for 30 days list the idle client", overview.includes(fx.idle_client_name));
  await shot(page, "overview");

  // An org page, through its link.
  await Promise.all([page.waitForEvent("load"), page.locator(`a[href="/ui/orgs/${fx.acme}"]`).first().click()]);
  const orgText = await page.locator("main").innerText();
  check("the org page shows the owner triad",
    ["tech@acme.example", "boss@acme.example", "sales@acme.example"].every((e) => orgText.includes(e)));
  check("the org page shows quota use and its clients",
    orgText.includes("of 10 active clients") && orgText.includes(fx.revoke_client.name));
  await shot(page, "org");

  // The timeline.
  await page.goto(fx.url + "/ui/timeline");
  const svg = page.locator("svg.timeline");
  check("the timeline marks today on the registry's clock",
    (await svg.locator(".today-label").textContent()) === `today ${fx.today}`);
  check("the timeline has a row per org with contract ends and client expiries",
    (await svg.locator(".org-row").count()) === orgs.items.length &&
    (await svg.locator(".contract-end").count()) >= 1 && (await svg.locator(".expiry").count()) >= 1);
  await shot(page, "timeline");

  // A client page with its audit events.
  await page.goto(fx.url + `/ui/clients/${fx.revoke_client.id}`);
  check("the client page lists its audit events",
    (await page.locator("main").innerText()).includes("client.create"));
  await shot(page, "client");

  // The audit trail, filtered, with the chain's state.
  await page.goto(fx.url + "/ui/audit");
  await page.fill("#f-action", "review.open");
  await Promise.all([page.waitForURL("**/ui/audit?**"), page.click("form.filters button")]);
  const audit = await page.locator("main").innerText();
  check("the audit trail shows the chain verified", audit.includes("Chain verified"));
  check("the audit filter keeps only the asked action",
    audit.includes("review.open") && !audit.includes("client.create"));
  await page.goto(fx.url + "/ui/audit?change_ref=example.com");
  check("a change reference that is a URL is a link",
    (await page.locator(`a[href="${fx.change_ref}"]`).count()) >= 1);
  await shot(page, "audit");

  // Decide a review item: revoked by introspection at once.
  check("the client to revoke introspects active before", await introspect(fx.revoke_client));
  await page.goto(fx.url + `/ui/campaigns/${fx.campaign}`);
  await shot(page, "campaign");
  const form = page.locator(`form.decide:has(input[name=client_id][value="${fx.revoke_client.id}"])`);
  await form.locator("input[name=comment]").fill("integration retired");
  await Promise.all([page.waitForEvent("load"), form.locator("button[value=revoke]").click()]);
  const decided = page.locator("tr", { has: page.locator(`a[href="/ui/clients/${fx.revoke_client.id}"]`) });
  check("the campaign shows the client revoked",
    (await decided.locator(".state").innerText()) === "revoked");
  check("introspection answers inactive for the revoked client", !(await introspect(fx.revoke_client)));
  await shot(page, "campaign-decided");

  // A form without its CSRF token changes nothing.
  const other = page.locator(`form.decide:has(input[name=client_id][value="${fx.keep_client_id}"])`);
  await other.locator("input[name=comment]").fill("still needed");
  await other.evaluate((f) => f.querySelector("input[name=csrf]").remove());
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/decisions")),
    other.locator("button[value=keep]").click(),
  ]);
  check("a form post without the CSRF token is refused", refused.status() === 403, String(refused.status()));
  const campaign = await api(fx.admin, "GET", `/v1/reviews/campaigns/${fx.campaign}`);
  check("the refused form decided nothing",
    campaign.items.find((i) => i.id === fx.keep_client_id).state === "undecided");

  // Sign out, then be refused.
  await page.goto(fx.url + "/ui/overview");
  await Promise.all([page.waitForURL("**/ui/login"), page.click("nav form button")]);
  await page.goto(fx.url + "/ui/overview");
  check("after signing out the console sends back to sign-in", page.url().endsWith("/ui/login"));
  const replay = await fetch(fx.url + "/ui/overview", {
    headers: { cookie: `pr_session=${session.value}` }, redirect: "manual",
  });
  check("the old session cookie is refused on the server", replay.status === 303);
  await reviewer.close();

  // ---------- an org token ----------
  const partner = await browser();
  await signIn(partner.page, fx.org_token);
  const own = await partner.page.locator("main").innerText();
  check("an org token sees no other org in the overview", !own.includes("acme"));
  const response = await partner.page.goto(fx.url + `/ui/orgs/${fx.acme}`);
  check("an org token cannot open another org's page (404)", response.status() === 404, String(response.status()));
  await shot(partner.page, "other-org-404");
  for (const list of ["/ui/timeline", "/ui/campaigns", "/ui/audit"]) {
    await partner.page.goto(fx.url + list);
    const body = await partner.page.locator("main").innerText();
    check(`an org token does not see the other org in ${list}`, !body.includes("acme") && !body.includes(fx.acme));
  }
  await partner.close();
} catch (e) {
  check("the browser run completed", false, e.stack);
}
process.exit(failed ? 1 : 0);

// Drives Debian's Chromium with playwright-core for tests/e2e/console_sso.rs.
//
//   node browse.cjs <profile-dir> <steps.json> <screenshot-dir>
//
// Runs the steps in one browser session; cookies persist in <profile-dir>
// between runs. Each step is an object with `op`:
//   login    {url, subject, shot}  opens the console, expects the identity
//            provider's authorization form (oidc-provider-mock), signs in
//            as `subject` and follows the redirects
//   goto     {url, shot}
//   fill     {selector, value}     select {selector, value}    check {selector}
//   click    {selector, shot}      clicks and waits for the navigation
//   count    {selector}            how many elements match
//   text     {selector}            the element's innerText
//   download {selector}            clicks a download link; the file's text
//   copy     {selector}            clicks a Copy button; the clipboard's text
//   post     {url, form}           a same-origin form POST with this
//            profile's cookies, as a user could send it by hand; value:
//            {status, text}
// Prints one JSON array: per step {status, url, text, html} after navigating
// steps (status: the last non-redirect document response), `authorize` (the
// authorization request's query) for login, `value` for the others.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  const [profile, stepsFile, shots] = process.argv.slice(2);
  const steps = JSON.parse(fs.readFileSync(stepsFile, 'utf8'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      // A server key this profile trusts as a user who trusted its CA would
      // (make dev's provider); every other certificate error still fails.
      ...(process.env.SCIMITAR_BROWSER_TRUST_SPKI
        ? [`--ignore-certificate-errors-spki-list=${process.env.SCIMITAR_BROWSER_TRUST_SPKI}`] : [])],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(15000);
  const page = context.pages()[0] || (await context.newPage());
  let status = null;
  page.on('response', (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()
        && !(response.status() >= 300 && response.status() < 400)) {
      status = response.status();
    }
  });
  let authorize = null;
  page.on('request', (request) => {
    if (request.url().includes('/oauth2/authorize') && request.method() === 'GET') {
      authorize = Object.fromEntries(new URL(request.url()).searchParams);
    }
  });
  const seen = async (shot) => {
    await page.waitForLoadState('load');
    if (shot) {
      await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
    }
    return { status, url: page.url(), text: await page.innerText('body'), html: await page.content() };
  };
  const results = [];
  for (const step of steps) {
    switch (step.op) {
      case 'login': {
        authorize = null;
        await page.goto(step.url);
        await page.waitForSelector('input[name=sub]');
        await page.fill('input[name=sub]', step.subject);
        await Promise.all([
          page.waitForURL((u) => !u.toString().includes('/oauth2/authorize')),
          page.click('button[type=submit]:has-text("Authorize")'),
        ]);
        results.push({ ...(await seen(step.shot)), authorize });
        break;
      }
      case 'goto':
        await page.goto(step.url);
        results.push(await seen(step.shot));
        break;
      case 'fill':
        await page.fill(step.selector, step.value);
        results.push({});
        break;
      case 'select':
        await page.selectOption(step.selector, step.value);
        results.push({});
        break;
      case 'check':
        await page.check(step.selector);
        results.push({});
        break;
      case 'click':
        await Promise.all([page.waitForNavigation(), page.click(step.selector)]);
        results.push(await seen(step.shot));
        break;
      case 'count':
        results.push({ value: await page.locator(step.selector).count() });
        break;
      case 'text':
        results.push({ value: await page.locator(step.selector).innerText() });
        break;
      case 'download': {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(step.selector)]);
        results.push({ value: fs.readFileSync(await download.path(), 'utf8') });
        break;
      }
      case 'copy': {
        const origin = new URL(page.url()).origin;
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
        await page.click(step.selector);
        await page.waitForFunction((s) => document.querySelector(s).textContent !== 'Copy', step.selector);
        results.push({ value: await page.evaluate(() => navigator.clipboard.readText()) });
        break;
      }
      case 'post': {
        const response = await context.request.post(step.url, {
          form: step.form,
          headers: { Origin: new URL(step.url).origin },
          maxRedirects: 0,
        });
        results.push({ value: { status: response.status(), text: await response.text() } });
        break;
      }
      default:
        throw new Error(`unknown op ${step.op}`);
    }
  }
  await context.close();
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
